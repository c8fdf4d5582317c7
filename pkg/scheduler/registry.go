package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Handler states, as the store keeps them and every edge shows them. A removed handler (schedulezero
// handlers remove) is kept in the store with its state, so that its
// schedules can say so after a restart; it is not listed.
const (
	handlerOnline  = "online"
	handlerOffline = "offline"
	handlerRemoved = "removed"
)

// ewmaWeight is the weight of the newest sample in the latency and error
// EWMAs: about the last 20 calls dominate.
const ewmaWeight = 0.05

// handlerState is the engine's live view of one handler. Its slots gate
// dispatch: an attempt waits while the handler is offline or at its
// concurrency limit.
type handlerState struct {
	mu       sync.Mutex
	rec      store.Handler
	conn     Conn
	limit    int
	inFlight int
	waiters  int
	changed  chan struct{} // closed and replaced on every change a waiter cares about

	latencyMS float64
	errorRate float64
}

func newHandlerState(rec store.Handler) *handlerState {
	return &handlerState{rec: rec, limit: limitFor(rec), changed: make(chan struct{})}
}

func limitFor(rec store.Handler) int {
	if rec.Protocol < 2 {
		return 1 // the original's REP handlers serve one request at a time
	}
	return max(rec.Concurrency, 1)
}

// broadcast wakes every waiter; the caller holds h.mu.
func (h *handlerState) broadcast() {
	if h.waiters > 0 {
		close(h.changed)
		h.changed = make(chan struct{})
	}
}

// acquire waits until the handler is online with a free slot, and returns the
// connection to use. It gives up when ctx is done, saying why.
func (h *handlerState) acquire(ctx context.Context) (Conn, error) {
	h.mu.Lock()
	for {
		if h.rec.Status == handlerOnline && h.conn != nil && h.inFlight < h.limit {
			h.inFlight++
			c := h.conn
			h.mu.Unlock()
			return c, nil
		}
		if h.rec.Status == handlerRemoved {
			id := h.rec.ID
			h.mu.Unlock()
			return nil, fmt.Errorf("handler %q: %w", id, errHandlerRemoved)
		}
		offline := h.rec.Status != handlerOnline
		status := h.rec.Status
		neverRegistered := h.rec.Address == ""
		ch := h.changed
		h.waiters++
		h.mu.Unlock()
		select {
		case <-ch:
			h.mu.Lock()
			h.waiters--
		case <-ctx.Done():
			h.mu.Lock()
			h.waiters--
			id := h.rec.ID
			h.mu.Unlock()
			if neverRegistered {
				return nil, fmt.Errorf("handler %q has not registered before the deadline: %w", id, wire.ErrUnavailable)
			}
			if offline {
				return nil, fmt.Errorf("handler %q is %s and did not come back before the deadline: %w", id, status, wire.ErrUnavailable)
			}
			return nil, fmt.Errorf("handler %q stayed at its concurrency limit until the deadline: %w", id, wire.ErrUnavailable)
		}
	}
}

// waitReason says why an attempt for h cannot be sent now: it is not
// online, never registered, or at its concurrency limit; "" when it has a
// free slot.
func (h *handlerState) waitReason() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.rec.Address == "":
		return fmt.Sprintf("waiting for handler %q, which has not registered", h.rec.ID)
	case h.rec.Status == handlerRemoved:
		return fmt.Sprintf("handler %q was removed", h.rec.ID)
	case h.rec.Status != handlerOnline:
		since := ""
		if !h.rec.LastSeen.IsZero() {
			since = " since " + h.rec.LastSeen.UTC().Format(time.RFC3339)
		}
		return fmt.Sprintf("waiting for handler %q (%s%s)", h.rec.ID, h.rec.Status, since)
	case h.conn == nil:
		return fmt.Sprintf("waiting for handler %q to be reachable", h.rec.ID)
	case h.inFlight >= h.limit:
		return fmt.Sprintf("waiting for a free slot of handler %q (%d running, its limit)", h.rec.ID, h.inFlight)
	}
	return ""
}

// removed reports whether the handler was removed.
func (h *handlerState) removed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rec.Status == handlerRemoved
}

// current returns the handler's connection now, or old if it has none,
// and whether the handler is online.
func (h *handlerState) current(old Conn) (Conn, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	online := h.rec.Status == handlerOnline
	if h.conn != nil {
		return h.conn, online
	}
	return old, online
}

// watch returns a channel that is closed at h's next change (a
// registration, a status report); the caller calls stop when it no longer
// waits on it.
func (h *handlerState) watch() (changed <-chan struct{}, stop func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.waiters++
	return h.changed, func() {
		h.mu.Lock()
		h.waiters--
		h.mu.Unlock()
	}
}

// tryAcquire takes a slot if the handler is online with one free.
func (h *handlerState) tryAcquire() Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rec.Status == handlerOnline && h.conn != nil && h.inFlight < h.limit {
		h.inFlight++
		return h.conn
	}
	return nil
}

// release frees a slot and records the call's outcome for health.
func (h *handlerState) release(d time.Duration, failed bool) {
	h.mu.Lock()
	h.inFlight--
	ms := float64(d) / float64(time.Millisecond)
	if h.latencyMS == 0 {
		h.latencyMS = ms
	} else {
		h.latencyMS += ewmaWeight * (ms - h.latencyMS)
	}
	f := 0.0
	if failed {
		f = 1
	}
	h.errorRate += ewmaWeight * (f - h.errorRate)
	h.broadcast()
	h.mu.Unlock()
}

// registry holds every known handler. It implements wire.Registry for the
// registration server and persists what it learns in the store, so that a
// restarted scheduler still knows handlers that do not re-register (the
// original's Python handlers only re-register when a ping fails).
//
// It also implements wire.Authenticator with secrets: the registration
// server asks it before every register, ping and status report, so a
// handler with a wrong secret never changes what the registry holds and
// never receives jobs.
type registry struct {
	db      *store.DB
	logger  *slog.Logger
	now     func() time.Time
	dial    DialFunc
	secrets *wire.HandlerSecrets // nil: no handler authenticates
	emit    func(event.Event)    // nil: events are not published

	mu       sync.Mutex
	handlers map[string]*handlerState
}

// publish emits e once the handler change it tells is durable.
func (r *registry) publish(e event.Event) {
	if r.emit != nil {
		r.emit(e)
	}
}

func newRegistry(db *store.DB, logger *slog.Logger, now func() time.Time, dial DialFunc) *registry {
	drained := func(address string, protocol int, jobToken string) Conn {
		return &drainConn{Conn: dial(address, protocol, jobToken)}
	}
	return &registry{db: db, logger: logger, now: now, dial: drained, handlers: make(map[string]*handlerState)}
}

var _ wire.Authenticator = (*registry)(nil)

// Authenticate implements wire.Authenticator. A refusal is logged here,
// once, with the reason and without the secret.
func (r *registry) Authenticate(handlerID, secret string) error {
	if err := r.secrets.Check(handlerID, secret); err != nil {
		r.logger.Warn("handler refused", "handler", handlerID, "err", err)
		return err
	}
	return nil
}

// load restores the registry from the store. Handlers that were online keep
// their address and are tried; a dead one fails its calls, which is recorded.
//
// A handler that must authenticate (r.secrets.Protects) is restored offline
// instead: what the store holds was accepted under the secrets of an
// earlier run, so it gets no job until it registers again with the secret
// of this run. Our runner does so within one ping interval (it sees the new
// scheduler instance).
func (r *registry) load(ctx context.Context) error {
	recs, err := r.db.ListHandlers(ctx)
	if err != nil {
		return fmt.Errorf("load handlers: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		if rec.Status == handlerOnline && r.secrets.Protects(rec.ID) {
			rec.Status = handlerOffline
		}
		h := newHandlerState(rec)
		if rec.Status == handlerOnline && rec.Address != "" {
			// Job tokens are not stored: a protocol 4 handler refuses
			// these calls ("not_run", so they are sent again) and
			// registers again at once, which brings its token.
			h.conn = r.dial(rec.Address, rec.Protocol, "")
		}
		r.handlers[rec.ID] = h
	}
	return nil
}

// get returns a handler that has registered (now or in an earlier run).
func (r *registry) get(id string) (*handlerState, bool) {
	r.mu.Lock()
	h, ok := r.handlers[id]
	r.mu.Unlock()
	if !ok || !h.registered() {
		return nil, false
	}
	return h, true
}

// registered reports whether the handler has an address: it is not a
// placeholder that attempts wait on. h.rec is guarded by h.mu, not r.mu.
func (h *handlerState) registered() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rec.Address != ""
}

// await returns the state of handler id, creating an offline placeholder
// when it never registered, so that an attempt can wait for it to appear
// (after a restart, recovered attempts may run before their handler has
// re-registered).
func (r *registry) await(id string) *handlerState {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.handlers[id]
	if !ok {
		h = newHandlerState(store.Handler{ID: id, Status: handlerOffline})
		r.handlers[id] = h
	}
	return h
}

// Register implements wire.Registry.
func (r *registry) Register(ctx context.Context, reg wire.Registration) (bool, error) {
	if reg.HandlerID == "" {
		return false, fmt.Errorf("register: handler_id is required")
	}
	if reg.Address == "" {
		return false, fmt.Errorf("register %q: address is required", reg.HandlerID)
	}
	now := r.now()
	r.mu.Lock()
	h, existed := r.handlers[reg.HandlerID]
	if existed && !h.registered() {
		existed = false // a placeholder that attempts wait on
	}
	if h == nil {
		h = newHandlerState(store.Handler{ID: reg.HandlerID, FirstSeen: now})
		r.handlers[reg.HandlerID] = h
	}
	r.mu.Unlock()

	h.mu.Lock()
	old := h.conn
	h.rec.Address = reg.Address
	h.rec.Methods = slices.Clone(reg.Methods)
	h.rec.Protocol = reg.Protocol
	h.rec.Concurrency = reg.Concurrency
	h.rec.Status = handlerOnline
	h.rec.LastSeen = now
	if h.rec.FirstSeen.IsZero() {
		h.rec.FirstSeen = now
	}
	h.limit = limitFor(h.rec)
	// A new connection for every registration: the handler may have
	// restarted, and a socket that was mid-call to the old process must not
	// carry the next job.
	h.conn = r.dial(reg.Address, reg.Protocol, reg.JobToken)
	rec := h.rec
	h.broadcast()
	h.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	if err := r.db.PutHandler(ctx, rec); err != nil {
		return existed, fmt.Errorf("register %q: %w", reg.HandlerID, err)
	}
	r.publish(handlerEvent(reg.HandlerID, handlerOnline))
	r.logger.Info("handler registered", "handler", reg.HandlerID, "address", reg.Address,
		"methods", len(reg.Methods), "protocol", reg.Protocol, "reregistered", existed)
	return existed, nil
}

// ReportStatus implements wire.Registry.
func (r *registry) ReportStatus(ctx context.Context, handlerID, status string) error {
	h, ok := r.get(handlerID)
	if !ok {
		return fmt.Errorf("handler %q: %w", handlerID, wire.ErrUnknownHandler)
	}
	// The connection stays open: a handler says "offline" when it stops,
	// after it has answered its last jobs, but those replies travel on
	// another socket and may not have been read yet; closing now would
	// throw them away. The status alone keeps new attempts from it, and
	// the next registration replaces the connection.
	h.mu.Lock()
	if h.rec.Status == handlerRemoved {
		// A late report of a handler removed meanwhile: it stays removed
		// until it registers again.
		h.mu.Unlock()
		return fmt.Errorf("handler %q: %w", handlerID, wire.ErrUnknownHandler)
	}
	h.rec.Status = status
	h.rec.LastSeen = r.now()
	rec := h.rec
	h.broadcast()
	h.mu.Unlock()
	r.logger.Info("handler status", "handler", handlerID, "status", status)
	if err := r.db.PutHandler(ctx, rec); err != nil {
		return fmt.Errorf("handler %q status: %w", handlerID, err)
	}
	r.publish(handlerEvent(handlerID, status))
	return nil
}

// Remove marks handler id removed: it gets no more jobs, attempts waiting
// for it fail, it is not listed, and fires of its schedules are recorded
// missed. It stays in the store in that state, so that this holds after a
// restart, until a handler registers again under its id.
func (r *registry) Remove(ctx context.Context, id string) error {
	h, ok := r.get(id)
	if ok && h.removed() {
		ok = false
	}
	if !ok {
		return fmt.Errorf("handler %q: %w", id, store.ErrNotFound)
	}
	h.mu.Lock()
	h.rec.Status = handlerRemoved
	h.rec.LastSeen = r.now()
	conn := h.conn
	h.conn = nil
	rec := h.rec
	h.broadcast()
	h.mu.Unlock()
	if conn != nil {
		_ = conn.Close() // a call still on it ends first (drainConn)
	}
	r.logger.Info("handler removed", "handler", id)
	if err := r.db.PutHandler(ctx, rec); err != nil {
		return fmt.Errorf("remove handler %q: %w", id, err)
	}
	r.publish(handlerEvent(id, handlerRemoved))
	return nil
}

// Seen implements wire.Registry.
func (r *registry) Seen(handlerID string) {
	if h, ok := r.get(handlerID); ok {
		h.mu.Lock()
		h.rec.LastSeen = r.now()
		h.mu.Unlock()
	}
}

// snapshot returns every handler's record and health, sorted by id.
func (r *registry) snapshot() []handlerView {
	r.mu.Lock()
	hs := make([]*handlerState, 0, len(r.handlers))
	for _, h := range r.handlers {
		hs = append(hs, h)
	}
	r.mu.Unlock()
	out := make([]handlerView, 0, len(hs))
	for _, h := range hs {
		h.mu.Lock()
		if h.rec.Address == "" { // a placeholder: never registered
			h.mu.Unlock()
			continue
		}
		out = append(out, handlerView{rec: h.rec, inFlight: h.inFlight, latencyMS: h.latencyMS, errorRate: h.errorRate})
		h.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b handlerView) int { return strings.Compare(a.rec.ID, b.rec.ID) })
	return out
}

type handlerView struct {
	rec       store.Handler
	inFlight  int
	latencyMS float64
	errorRate float64
}

// close drops every connection.
func (r *registry) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.handlers {
		h.mu.Lock()
		if h.conn != nil {
			_ = h.conn.Close()
			h.conn = nil
		}
		h.mu.Unlock()
	}
}
