package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
)

// Defaults of the event stream.
const (
	DefaultEventHeartbeat = 15 * time.Second
	// eventWriteTimeout bounds each write to a stream's client: the server
	// has no WriteTimeout (see socket.HTTPLimits), and a client that stops
	// reading must not hold its handler forever.
	eventWriteTimeout = 30 * time.Second
	// eventRetryMS is the reconnection delay the stream asks of browsers.
	eventRetryMS = 2000
)

// EventLost is the data of the stream's "lost" event: events between the
// last one the client saw and the next one it gets are no longer retained;
// read them from the execution history.
type EventLost struct {
	Missed uint64 `json:"missed"` // 0: unknown (the scheduler restarted)
	Reason string `json:"reason"`
}

// eventFilter selects events by kind (exact, or a prefix ending in "."),
// schedule and handler.
type eventFilter struct {
	kinds    []string
	schedule string
	handler  string
}

func (f eventFilter) match(e event.Event) bool {
	if f.schedule != "" && e.ScheduleID != f.schedule {
		return false
	}
	if f.handler != "" && e.HandlerID != f.handler {
		return false
	}
	if len(f.kinds) == 0 {
		return true
	}
	for _, k := range f.kinds {
		if string(e.Kind) == k || (strings.HasSuffix(k, ".") && strings.HasPrefix(string(e.Kind), k)) {
			return true
		}
	}
	return false
}

// EventID is the stream's id of event seq of the hub of epoch: the
// epoch and the sequence number, so that a client resuming against a
// restarted scheduler is told its position is gone instead of being taken
// for one in the new run. A page rendered at seq opens the stream with
// ?after= this id, so that it misses nothing that happened since.
func EventID(epoch int64, seq uint64) string { return fmt.Sprintf("%d-%d", epoch, seq) }

// parseEventID returns the sequence number of id if it belongs to epoch.
func parseEventID(id string, epoch int64) (seq uint64, sameRun bool, err error) {
	e, q, ok := strings.Cut(id, "-")
	if !ok {
		return 0, false, fmt.Errorf("%q is not <epoch>-<sequence>", id)
	}
	ep, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%q: epoch: %w", id, err)
	}
	seq, err = strconv.ParseUint(q, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%q: sequence: %w", id, err)
	}
	return seq, ep == epoch, nil
}

// events serves GET /api/v1/events, the engine's events as Server-Sent
// Events. A client that sends Last-Event-ID (browsers do on reconnect),
// or ?after=<id>, gets first what it missed that the hub still holds; a
// "lost" event says what it holds no longer; after=0 asks for all it
// holds. A "live" event follows the replay (at once when there is none).
// A client too slow to read is never waited for by the engine: the hub drops its subscription and this
// handler resumes it from the ring, telling the client of any gap.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	if s.hub == nil {
		s.writeErr(w, r, fieldErr(http.StatusNotImplemented, "", "this server has no event stream", "use GET /api/v1/executions"))
		return
	}
	q := r.URL.Query()
	f := eventFilter{schedule: q.Get("schedule_id"), handler: q.Get("handler_id")}
	if k := q.Get("kind"); k != "" {
		f.kinds = strings.Split(k, ",")
	}
	last := r.Header.Get("Last-Event-ID")
	if a := q.Get("after"); a != "" && last == "" {
		last = a
	}
	var lost *EventLost
	seen := s.hub.Last() // the last event delivered or filtered out
	if last == "0" {     // everything retained, no notice of what is not
		seen = 0
	} else if last != "" {
		seq, same, err := parseEventID(last, s.hub.Epoch())
		if err != nil {
			s.writeErr(w, r, fieldErr(http.StatusBadRequest, "Last-Event-ID", err.Error(), "send an id this stream gave, or none"))
			return
		}
		seen = seq
		if !same {
			seen = 0 // another run's position: all this run holds
			lost = &EventLost{Reason: "the scheduler restarted since the last event seen; read the execution history for what happened meanwhile"}
		}
	}
	sub := s.hub.SubscribeAfter(seen, 0)
	if sub.Gap() > 0 && lost == nil && last != "0" {
		lost = &EventLost{Missed: sub.Gap(), Reason: "older events are no longer retained; read the execution history"}
	}
	defer func() { sub.Close() }()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sse := &sseWriter{w: w, rc: rc, frames: s.frames}
	fmt.Fprintf(&sse.buf, "retry: %d\n\n", eventRetryMS)
	if lost != nil {
		sse.lost(*lost)
	}
	// The replay is in the subscription's channel already: once that many
	// events are taken, the client is told it is live.
	replay := len(sub.C)
	if replay == 0 {
		sse.live()
	}
	if err := sse.flush(); err != nil {
		return
	}
	// take formats e, or, when the hub dropped the subscription for
	// falling behind (ok false), resumes after the last event taken.
	take := func(e event.Event, ok bool) {
		if !ok {
			sub = s.hub.SubscribeAfter(seen, 0)
			if sub.Gap() > 0 {
				sse.lost(EventLost{Missed: sub.Gap(), Reason: "this client fell behind and older events are no longer retained; read the execution history"})
			}
			return
		}
		seen = e.Seq
		if f.match(e) {
			sse.event(e)
		}
		if replay > 0 {
			if replay--; replay == 0 {
				sse.live()
			}
		}
	}
	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			sse.buf.WriteString(": heartbeat\n\n")
		case e, ok := <-sub.C:
			take(e, ok)
			// What is queued already goes in the same write.
			for more := ok; more && sse.buf.Len() < 64<<10; {
				select {
				case e, ok := <-sub.C:
					take(e, ok)
					more = ok
				default:
					more = false
				}
			}
		}
		if err := sse.flush(); err != nil {
			s.log.Debug("event stream ended", "remote", r.RemoteAddr, "err", err)
			return
		}
	}
}

// sseWriter formats events into a buffer and writes it out with a
// deadline.
type sseWriter struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	frames *frameCache
	buf    bytes.Buffer
}

func (s *sseWriter) event(e event.Event) { s.buf.Write(s.frames.frame(e)) }

// live marks the end of the replay: what follows happens now.
func (s *sseWriter) live() { s.buf.WriteString("event: live\ndata: {}\n\n") }

func (s *sseWriter) lost(l EventLost) {
	data, _ := json.Marshal(l)
	fmt.Fprintf(&s.buf, "event: lost\ndata: %s\n\n", data)
}

func (s *sseWriter) flush() error {
	if s.buf.Len() == 0 {
		return nil
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	if err != nil {
		return err
	}
	return s.rc.Flush()
}

// frameCache holds the SSE frames of recent events, so that an event
// going to many streams is encoded once, not once per stream.
type frameCache struct {
	epoch int64
	mu    sync.Mutex
	slots [1024]struct {
		seq   uint64
		frame []byte
	}
}

func newFrameCache(epoch int64) *frameCache { return &frameCache{epoch: epoch} }

// frame returns e's frame: id, event and data lines. The slice is shared:
// callers copy it out and never change it.
func (c *frameCache) frame(e event.Event) []byte {
	slot := &c.slots[e.Seq%uint64(len(c.slots))]
	c.mu.Lock()
	defer c.mu.Unlock()
	if slot.seq == e.Seq && slot.frame != nil {
		return slot.frame
	}
	data, _ := json.Marshal(e) // an Event always marshals
	f := make([]byte, 0, len(data)+64)
	f = fmt.Appendf(f, "id: %s\nevent: %s\ndata: %s\n\n", EventID(c.epoch, e.Seq), e.Kind, data)
	slot.seq, slot.frame = e.Seq, f
	return f
}
