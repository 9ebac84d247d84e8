package kubelet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Container logs: the runtime writes each container's output to a file in
// the CRI format, one record a line:
//
//	2016-10-06T00:17:09.669794202Z stdout F the message
//
// where the tag is F for a full line and P for a part of a longer one
// (the next records continue it). containerLogs reads that file back as
// the container's plain output, with upstream's options.

// timestampFormat is how timestamps=true prefixes lines: RFC 3339 with
// nanoseconds always printed, as upstream.
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// LogOptions are the query parameters of GET /containerLogs.
type LogOptions struct {
	Follow     bool
	Previous   bool
	Timestamps bool
	// TailLines, when >= 0, keeps only the last lines (-1: all).
	TailLines int64
	// LimitBytes, when > 0, ends the output after that many bytes.
	LimitBytes int64
	// Since, when not zero, drops records written before it.
	Since time.Time
}

// ParseLogOptions reads upstream's query parameters: follow, previous,
// timestamps, tailLines, limitBytes, sinceSeconds and sinceTime
// (RFC 3339). now resolves sinceSeconds.
func ParseLogOptions(q url.Values, now time.Time) (LogOptions, error) {
	o := LogOptions{TailLines: -1}
	for name, p := range map[string]*bool{"follow": &o.Follow, "previous": &o.Previous, "timestamps": &o.Timestamps} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("invalid %s parameter %q", name, v)
			}
			*p = b
		}
	}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return o, fmt.Errorf("invalid tailLines parameter %q", v)
		}
		o.TailLines = n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return o, fmt.Errorf("invalid limitBytes parameter %q", v)
		}
		o.LimitBytes = n
	}
	if v := q.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return o, fmt.Errorf("invalid sinceSeconds parameter %q", v)
		}
		o.Since = now.Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		if !o.Since.IsZero() {
			return o, errors.New("at most one of sinceTime or sinceSeconds may be specified")
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return o, fmt.Errorf("invalid sinceTime parameter %q", v)
		}
		o.Since = t
	}
	return o, nil
}

// logRecord is one parsed line of a CRI log file.
type logRecord struct {
	time    time.Time
	partial bool // tag P: the line continues in the next record
	msg     []byte
}

// errBadRecord is a line that is not in the CRI format.
var errBadRecord = errors.New("not a CRI log record")

// parseCRILog parses one line (without its newline) of a CRI log file.
func parseCRILog(line []byte) (logRecord, error) {
	var rec logRecord
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return rec, errBadRecord
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return rec, errBadRecord
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != "stdout" && string(stream) != "stderr") {
		return rec, errBadRecord
	}
	tag, msg, _ := bytes.Cut(rest, []byte{' '})
	rec.time, rec.msg = t, msg
	// Tags are ':'-separated; the first says full or partial.
	first, _, _ := bytes.Cut(tag, []byte{':'})
	switch string(first) {
	case "F":
	case "P":
		rec.partial = true
	default:
		return rec, errBadRecord
	}
	return rec, nil
}

// errLimit ends the output when limitBytes is reached.
var errLimit = errors.New("log byte limit reached")

// logWriter writes records as plain lines: a timestamp at the start of
// each line when asked, a newline after every full record, no more than
// limit bytes in all (limit 0: no limit).
type logWriter struct {
	w          io.Writer
	timestamps bool
	limit      int64
	written    int64
	// midLine is true after a partial record: the next one continues it.
	midLine bool
}

func (lw *logWriter) write(rec logRecord) error {
	var b []byte
	if lw.timestamps && !lw.midLine {
		b = append(b, rec.time.UTC().Format(timestampFormat)...)
		b = append(b, ' ')
	}
	b = append(b, rec.msg...)
	if !rec.partial {
		b = append(b, '\n')
	}
	lw.midLine = rec.partial
	if lw.limit > 0 && lw.written+int64(len(b)) >= lw.limit {
		b = b[:lw.limit-lw.written]
		lw.written = lw.limit
		if _, err := lw.w.Write(b); err != nil {
			return err
		}
		return errLimit
	}
	lw.written += int64(len(b))
	_, err := lw.w.Write(b)
	return err
}

// logReader reads complete lines from a file that may still be growing;
// a last line without its newline is kept until the rest is written.
type logReader struct {
	r       *bufio.Reader
	pending []byte
}

// next returns the next complete line without its newline, or io.EOF when
// there is none yet.
func (lr *logReader) next() ([]byte, error) {
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.pending = append(lr.pending, chunk...)
		switch {
		case err == nil:
			line := lr.pending[:len(lr.pending)-1]
			lr.pending = nil
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, err
		}
	}
}

// copyLogs writes the container log in f to w as opts ask. With Follow it
// keeps reading what is appended, every poll, until running reports the
// container stopped (and what it wrote last has been read) or ctx ends.
// flush, if not nil, is called whenever the output should reach the
// client.
func copyLogs(ctx context.Context, f io.Reader, w io.Writer, flush func(), opts LogOptions, running func() bool, clk clock.Clock, poll time.Duration) error {
	lr := &logReader{r: bufio.NewReaderSize(f, 64<<10)}
	lw := &logWriter{w: w, timestamps: opts.Timestamps, limit: opts.LimitBytes}
	keep := func(rec logRecord) bool { return opts.Since.IsZero() || !rec.time.Before(opts.Since) }

	// What is in the file now: all of it, or its last TailLines lines.
	if opts.TailLines >= 0 {
		var lines [][]logRecord // a ring of the last TailLines lines
		var cur []logRecord
		for {
			raw, err := lr.next()
			if err != nil {
				break
			}
			rec, perr := parseCRILog(raw)
			if perr != nil || !keep(rec) {
				continue
			}
			rec.msg = bytes.Clone(rec.msg)
			cur = append(cur, rec)
			if !rec.partial {
				if opts.TailLines > 0 {
					if int64(len(lines)) == opts.TailLines {
						lines = lines[1:]
					}
					lines = append(lines, cur)
				}
				cur = nil
			}
		}
		if opts.TailLines > 0 || len(cur) > 0 {
			lines = append(lines, cur)
		}
		for _, line := range lines {
			for _, rec := range line {
				if err := lw.write(rec); err != nil {
					return ignoreLimit(err)
				}
			}
		}
	}
	emit := func(raw []byte) error {
		rec, err := parseCRILog(raw)
		if err != nil || !keep(rec) {
			return nil
		}
		return lw.write(rec)
	}
	for {
		raw, err := lr.next()
		if err == nil {
			if err := emit(raw); err != nil {
				return ignoreLimit(err)
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		if flush != nil {
			flush()
		}
		if !opts.Follow {
			return nil
		}
		if !running() {
			// Read what it wrote before it stopped, then end.
			for {
				raw, err := lr.next()
				if err != nil {
					break
				}
				if err := emit(raw); err != nil {
					return ignoreLimit(err)
				}
			}
			if flush != nil {
				flush()
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-clk.After(poll):
		}
	}
}

func ignoreLimit(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

// containerLogs serves GET /containerLogs/NAMESPACE/POD/CONTAINER.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ns, podName, name := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	opts, err := ParseLogOptions(r.URL.Query(), s.cfg.Clock.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sb, err := s.sandboxFor(ctx, ns, podName, "")
	if err != nil {
		s.lookupError(w, err)
		return
	}
	cs, err := s.containersFor(ctx, sb, name)
	if err != nil {
		s.lookupError(w, err)
		return
	}
	i := 0
	if opts.Previous {
		i = 1
	}
	if len(cs) <= i {
		if opts.Previous {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", name, podName), http.StatusBadRequest)
		} else {
			http.Error(w, fmt.Sprintf("container %q in pod %q is not available", name, podName), http.StatusBadRequest)
		}
		return
	}
	id := cs[i].Id
	st, err := s.cfg.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		s.lookupError(w, err)
		return
	}
	f, err := os.Open(st.GetStatus().GetLogPath())
	if err != nil {
		http.Error(w, fmt.Sprintf("failed to open log of container %q in pod %q: %v", name, podName, err), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	running := func() bool {
		st, err := s.cfg.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		return err == nil && st.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	if opts.Previous {
		opts.Follow = false
	}
	w.Header().Set("Content-Type", "text/plain")
	rc := http.NewResponseController(w)
	flush := func() { _ = rc.Flush() }
	if err := copyLogs(ctx, f, w, flush, opts, running, s.cfg.Clock, s.cfg.LogPollInterval); err != nil {
		s.log.Debug("streaming a container log", "pod", ns+"/"+podName, "container", name, "err", err)
	}
}
