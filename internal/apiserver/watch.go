package apiserver

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

// minWatchTimeout is upstream's --min-request-timeout: a watch without
// timeoutSeconds ends after between one and two times this.
const minWatchTimeout = 30 * time.Minute

func (s *APIServer) watch(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, err := negotiate(r, asTable, asPartial)
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts, ls, fs, err := listOptions(r, res)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if info.Name != "" {
		fs = fields.AndSelectors(fs, fields.OneTermEqualSelector("metadata.name", info.Name))
	}
	if opts.SendInitialEvents != nil && *opts.SendInitialEvents {
		var errs field.ErrorList
		if !opts.AllowWatchBookmarks {
			errs = append(errs, field.Forbidden(field.NewPath("allowWatchBookmarks"), "sendInitialEvents requires setting allowWatchBookmarks to true"))
		}
		if opts.ResourceVersionMatch != metav1.ResourceVersionMatchNotOlderThan {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
		}
		if len(errs) > 0 {
			writeError(w, r, invalidOptions(errs))
			return
		}
	} else if opts.ResourceVersionMatch != "" {
		writeError(w, r, invalidOption("resourceVersionMatch", string(opts.ResourceVersionMatch), "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
		return
	}
	timeout := minWatchTimeout + time.Duration(rand.Int64N(int64(minWatchTimeout)))
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	wi, err := res.store.Watch(ctx, info.Namespace, storage.WatchOptions{
		ResourceVersion:      opts.ResourceVersion,
		ResourceVersionMatch: string(opts.ResourceVersionMatch),
		Label:                ls,
		Field:                fs,
		AllowBookmarks:       opts.AllowWatchBookmarks,
		SendInitialEvents:    opts.SendInitialEvents,
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer wi.Stop()

	stream := out.info.StreamSerializer
	contentType := out.contentType()
	if out.info.MediaType == mediaProtobuf {
		contentType += ";stream=watch"
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	frames := stream.Framer.NewFrameWriter(w)
	var buf bytes.Buffer
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			obj, err := s.watchObject(r, out, res, ev, first)
			if err != nil {
				obj = statusObject(err)
				ev.Type = watch.Error
			}
			first = false
			buf.Reset()
			if err := out.info.Serializer.Encode(obj, &buf); err != nil {
				return
			}
			event := &metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: buf.Bytes()}}
			if err := stream.Serializer.Encode(event, frames); err != nil {
				return
			}
			if len(wi.ResultChan()) == 0 && flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// watchObject converts an event's object into the negotiated representation.
func (s *APIServer) watchObject(r *http.Request, out output, res *resource, ev watch.Event, first bool) (runtime.Object, error) {
	if ev.Type == watch.Error {
		return ev.Object, nil
	}
	obj, err := res.served(ev.Object)
	if err != nil {
		return nil, err
	}
	switch out.as {
	case asTable:
		var objs []runtime.Object
		if ev.Type != watch.Bookmark {
			objs = []runtime.Object{obj}
		}
		table, err := s.table(r, res, objs, out.version)
		if err != nil {
			return nil, err
		}
		if !first {
			table.ColumnDefinitions = nil
		}
		table.ResourceVersion = objectMeta(obj).ResourceVersion
		return table, nil
	case asPartial:
		return partial(obj, out.version), nil
	}
	return obj, nil
}
