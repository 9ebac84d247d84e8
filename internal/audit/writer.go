package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
)

// Sink receives finished events. Process must not block for long: it runs
// on the request's goroutine. The sink owns ev after the call.
type Sink interface {
	Process(ev *Event)
}

// DefaultBufferSize is the number of events a Writer queues.
const DefaultBufferSize = 10000

// Writer is a Sink that writes events as JSON lines, one per event, from
// its own goroutine.
//
// Trade-off: Process never waits. When the queue is full (the disk cannot
// keep up), the event is dropped, counted (Dropped) and logged, instead of
// stalling API requests. Upstream's log backend blocks by default; Skiff
// prefers availability, and a lost audit event is visible in the log and
// the counter. Size the buffer for bursts.
type Writer struct {
	out io.Writer
	log *slog.Logger
	// queue is never closed: Process may race with the end of Run, and a
	// send on a closed channel would panic. Run drains it before returning.
	queue   chan *Event
	stopped atomic.Bool
	dropped atomic.Int64
	failed  atomic.Int64
}

var _ Sink = (*Writer)(nil)

// NewWriter returns a Writer to out queueing up to bufferSize events
// (DefaultBufferSize if <= 0). log may be nil (slog.Default()). Call Run.
func NewWriter(out io.Writer, bufferSize int, log *slog.Logger) *Writer {
	if bufferSize <= 0 {
		bufferSize = DefaultBufferSize
	}
	if log == nil {
		log = slog.Default()
	}
	return &Writer{out: out, log: log, queue: make(chan *Event, bufferSize)}
}

// Process queues ev, or drops it when the queue is full or Run has ended.
func (w *Writer) Process(ev *Event) {
	if w.stopped.Load() {
		w.drop()
		return
	}
	select {
	case w.queue <- ev:
	default:
		w.drop()
	}
}

func (w *Writer) drop() {
	if n := w.dropped.Add(1); n == 1 || n%1000 == 0 {
		w.log.Warn("audit: event queue full or closed; dropping events", "dropped", n)
	}
}

// Dropped returns the number of events dropped so far.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Run writes queued events until ctx is done, then writes what is still
// queued, flushes and returns. It flushes whenever the queue empties, so
// lines reach out promptly. Write errors are logged and the events lost;
// so is an event whose Process races with the end of Run.
func (w *Writer) Run(ctx context.Context) {
	bw := bufio.NewWriterSize(w.out, 64<<10)
	enc := json.NewEncoder(bw)
	write := func(ev *Event) {
		if err := enc.Encode(ev); err != nil {
			if n := w.failed.Add(1); n == 1 || n%1000 == 0 {
				w.log.Error("audit: writing event", "err", err, "failures", n)
			}
		}
	}
	flush := func() {
		if err := bw.Flush(); err != nil {
			w.log.Error("audit: flushing events", "err", err)
		}
	}
	for {
		select {
		case ev := <-w.queue:
			write(ev)
			if len(w.queue) == 0 {
				flush()
			}
		case <-ctx.Done():
			w.stopped.Store(true)
			for {
				select {
				case ev := <-w.queue:
					write(ev)
				default:
					flush()
					return
				}
			}
		}
	}
}

// OpenLog opens the --audit-log-path file for appending (creating it and
// its directory, private to the owner); "-" is standard output.
func OpenLog(path string) (io.WriteCloser, error) {
	if path == "-" {
		return nopCloser{os.Stdout}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
