package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWriter(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name          string
		buffer        int
		before, after int // events processed before Run and after it ended
		wantLines     int
		wantDropped   int64
	}{
		{"queued events are written at stop", 5, 3, 0, 3, 0},
		{"full queue drops instead of blocking", 2, 5, 0, 2, 3},
		{"events after stop are dropped", 5, 1, 2, 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			w := NewWriter(&out, tc.buffer, quiet)
			for i := 0; i < tc.before; i++ {
				w.Process(&Event{Kind: "Event", AuditID: "a"})
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			w.Run(ctx)
			for i := 0; i < tc.after; i++ {
				w.Process(&Event{Kind: "Event", AuditID: "late"})
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if out.String() == "" {
				lines = nil
			}
			if len(lines) != tc.wantLines || w.Dropped() != tc.wantDropped {
				t.Fatalf("%d lines, %d dropped; want %d, %d", len(lines), w.Dropped(), tc.wantLines, tc.wantDropped)
			}
			for _, l := range lines {
				var ev Event
				if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.AuditID != "a" {
					t.Errorf("line %q: %v", l, err)
				}
			}
		})
	}
}

// TestWriterRunning checks that Run writes everything processed while it
// runs, then returns when its context ends.
func TestWriterRunning(t *testing.T) {
	var out syncBuffer
	w := NewWriter(&out, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}) // closed when Run returns
	go func() { defer close(done); w.Run(ctx) }()
	for i := 0; i < 100; i++ {
		w.Process(&Event{Kind: "Event"})
	}
	cancel()
	<-done
	if n := strings.Count(out.String(), "\n"); n != 100 {
		t.Fatalf("%d lines; want 100", n)
	}
}
