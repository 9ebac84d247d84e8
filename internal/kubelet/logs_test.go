package kubelet

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/clock"
)

// criLog is a CRI log file: stdout F one, stderr F two, a line split in
// two partial records, and F four, a second apart from 10:00:00.
const criLog = `2024-05-01T10:00:00.000000001Z stdout F one
2024-05-01T10:00:01Z stderr F two
2024-05-01T10:00:02.5Z stdout P thr
2024-05-01T10:00:02.6Z stdout F ee
not a record
2024-05-01T10:00:03Z stdout F four
`

func TestParseCRILog(t *testing.T) {
	for _, tc := range []struct {
		line    string
		msg     string
		partial bool
		bad     bool
	}{
		{line: "2024-05-01T10:00:00Z stdout F hello world", msg: "hello world"},
		{line: "2024-05-01T10:00:00.123+02:00 stderr P part", msg: "part", partial: true},
		{line: "2024-05-01T10:00:00Z stdout F", msg: ""},
		{line: "2024-05-01T10:00:00Z stdout F:x tagged", msg: "tagged"},
		{line: "garbage", bad: true},
		{line: "2024-05-01T10:00:00Z stdin F x", bad: true},
		{line: "2024-05-01T10:00:00Z stdout X x", bad: true},
	} {
		rec, err := parseCRILog([]byte(tc.line))
		if (err != nil) != tc.bad {
			t.Errorf("%q: err %v; want bad=%v", tc.line, err, tc.bad)
			continue
		}
		if !tc.bad && (string(rec.msg) != tc.msg || rec.partial != tc.partial) {
			t.Errorf("%q: got %q partial=%v; want %q partial=%v", tc.line, rec.msg, rec.partial, tc.msg, tc.partial)
		}
	}
}

func TestCopyLogs(t *testing.T) {
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	for _, tc := range []struct {
		name string
		opts LogOptions
		want string
	}{
		{"all", LogOptions{TailLines: -1}, "one\ntwo\nthree\nfour\n"},
		{"tail 2 keeps a split line whole", LogOptions{TailLines: 2}, "three\nfour\n"},
		{"tail 1", LogOptions{TailLines: 1}, "four\n"},
		{"tail 0", LogOptions{TailLines: 0}, ""},
		{"tail more than there is", LogOptions{TailLines: 10}, "one\ntwo\nthree\nfour\n"},
		{"since", LogOptions{TailLines: -1, Since: at("2024-05-01T10:00:01Z")}, "two\nthree\nfour\n"},
		{"limit bytes", LogOptions{TailLines: -1, LimitBytes: 6}, "one\ntw"},
		{"timestamps", LogOptions{TailLines: 2, Timestamps: true},
			"2024-05-01T10:00:02.500000000Z three\n2024-05-01T10:00:03.000000000Z four\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := copyLogs(context.Background(), strings.NewReader(criLog), &out, nil, tc.opts, func() bool { return false }, clock.RealClock{}, time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q; want %q", out.String(), tc.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// TestCopyLogsFollow appends to a log file while it is followed, including
// a record written in two pieces, and checks the follow ends once the
// container stops, with its last line read.
func TestCopyLogsFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte("2024-05-01T10:00:00Z stdout F first\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	var stopped atomic.Bool
	out := newSyncBuffer()
	flushed := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() {
		done <- copyLogs(context.Background(), f, out, func() {
			select {
			case flushed <- struct{}{}:
			default:
			}
		}, LogOptions{Follow: true, TailLines: -1},
			func() bool { return !stopped.Load() }, clock.RealClock{}, time.Millisecond)
	}()
	waitOutput := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for out.String() != want {
			select {
			case <-flushed:
			case <-deadline:
				t.Fatalf("output %q; want %q", out.String(), want)
			}
		}
	}
	waitOutput("first\n")
	// Half a record: nothing new until the rest arrives.
	if _, err := w.WriteString("2024-05-01T10:00:01Z stdout F sec"); err != nil {
		t.Fatal(err)
	}
	// Three more reads at the end of the file have seen it.
	for len(flushed) > 0 {
		<-flushed
	}
	for range 3 {
		<-flushed
	}
	if got := out.String(); got != "first\n" {
		t.Fatalf("a half-written record was emitted: %q", got)
	}
	if _, err := w.WriteString("ond\n"); err != nil {
		t.Fatal(err)
	}
	waitOutput("first\nsecond\n")
	if _, err := w.WriteString("2024-05-01T10:00:02Z stdout F last words\n"); err != nil {
		t.Fatal(err)
	}
	stopped.Store(true)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the container stopped")
	}
	if got := out.String(); got != "first\nsecond\nlast words\n" {
		t.Errorf("got %q; want every line", got)
	}
}

func TestParseLogOptions(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	o, err := ParseLogOptions(url.Values{"follow": {"true"}, "tailLines": {"3"}, "sinceSeconds": {"60"}, "limitBytes": {"10"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Follow || o.TailLines != 3 || o.LimitBytes != 10 || !o.Since.Equal(now.Add(-time.Minute)) {
		t.Errorf("got %+v", o)
	}
	for _, bad := range []url.Values{
		{"tailLines": {"-1"}}, {"limitBytes": {"0"}}, {"sinceSeconds": {"0"}}, {"follow": {"maybe"}},
		{"sinceSeconds": {"5"}, "sinceTime": {"2024-05-01T10:00:00Z"}}, {"sinceTime": {"yesterday"}},
	} {
		if _, err := ParseLogOptions(bad, now); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
