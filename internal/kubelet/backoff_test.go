package kubelet

import (
	"testing"
	"time"
)

func TestBackoffSequence(t *testing.T) {
	b := newBackoff()
	t0 := time.Unix(1000, 0)
	// First exit: no hold-back.
	if w, _ := b.waiting("c", t0, t0); w {
		t.Fatal("first restart held back")
	}
	now := t0
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second} {
		b.next("c", now)
		exit := now.Add(time.Second) // the restarted container crashes a second later
		w, d := b.waiting("c", exit, exit)
		if !w || d != want {
			t.Fatalf("restart %d: waiting = %v, %s; want true, %s", i+1, w, d, want)
		}
		if at := b.retryAt("c", exit); at != exit.Add(want) {
			t.Fatalf("restart %d: retryAt = %s; want %s", i+1, at, exit.Add(want))
		}
		now = exit.Add(want)
		if w, _ := b.waiting("c", exit, now); w {
			t.Fatalf("restart %d: still waiting after the delay", i+1)
		}
	}
	// Ten quiet minutes reset the delay.
	later := now.Add(11 * time.Minute)
	if w, _ := b.waiting("c", later, later); w {
		t.Fatal("held back after ten quiet minutes")
	}
	b.next("c", later)
	if _, d := b.waiting("c", later, later); d != backoffInitial {
		t.Fatalf("delay after reset = %s; want %s", d, backoffInitial)
	}
}
