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
	return &registry{db: db, logger: logger, now: now, dial: dial, handlers: make(map[string]*handlerState)}
}

// connect opens in's connection to address of h: a drainConn that knows
// its instance, and tells h when the process says it is closing.
func (r *registry) connect(h *handlerState, in *instance, address string, protocol int, jobToken string) Conn {
	return &drainConn{Conn: r.dial(address, protocol, jobToken), inst: in, goneFunc: func(c *drainConn) {
		h.mu.Lock()
		if in.conn == c {
			in.unreachable = true // until it registers again
			h.broadcast()
		}
		h.mu.Unlock()
	}}
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
			// The instance of the last registration, without its id
			// (instances are not stored): an instance that registers
			// again at its address takes it over. Job tokens are not
			// stored either: a protocol 4 handler refuses these calls
			// ("not_run", so they are sent again) and registers again at
			// once, which brings its token.
			in := &instance{address: rec.Address, host: hostOf(rec.Address), protocol: rec.Protocol,
				concurrency: rec.Concurrency, status: handlerOnline, restored: true, firstSeen: rec.FirstSeen, lastSeen: rec.LastSeen,
				limit: limitOf(rec.Protocol, rec.Concurrency)}
			in.conn = r.connect(h, in, rec.Address, rec.Protocol, "")
			h.insts = []*instance{in}
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

// Register implements wire.Registry. A registration with an instance id
// joins the handler's pool, or replaces the instance of that id (the same
// process restarted) or of that address; one without (the original's
// handlers) replaces the instance without an id, as one name was one
// process before pools.
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
	if h.rec.Status == handlerRemoved {
		h.insts = nil // a removed handler comes back with this instance alone
	}
	in, known := h.instanceLocked(reg)
	old := in.conn
	in.apply(reg, now)
	// A new connection for every registration: the handler may have
	// restarted, and a socket that was mid-call to the old process must not
	// carry the next job.
	in.conn = r.connect(h, in, reg.Address, reg.Protocol, reg.JobToken)
	dropped := h.pruneLocked(time.Now())
	h.rec.Address = reg.Address
	h.rec.Methods = slices.Clone(reg.Methods)
	h.rec.Protocol = reg.Protocol
	h.rec.Concurrency = reg.Concurrency
	h.rec.Status = handlerOnline
	h.rec.LastSeen = now
	if h.rec.FirstSeen.IsZero() {
		h.rec.FirstSeen = now
	}
	rec := h.rec
	pool := len(h.insts)
	h.broadcast()
	h.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	for _, c := range dropped {
		_ = c.Close()
	}
	if err := r.db.PutHandler(ctx, rec); err != nil {
		return existed, fmt.Errorf("register %q: %w", reg.HandlerID, err)
	}
	r.publish(handlerEvent(reg.HandlerID, handlerOnline))
	r.logger.Info("handler registered", "handler", reg.HandlerID, "instance", reg.Instance, "address", reg.Address,
		"methods", len(reg.Methods), "protocol", reg.Protocol, "reregistered", existed && known, "count", pool)
	return existed && (known || reg.Instance == ""), nil
}

// instanceLocked finds the instance reg is about: the one of its id, else
// the one at its address (a process bound there now is the only one that
// can be), else a new one in the pool. The caller holds h.mu.
func (h *handlerState) instanceLocked(reg wire.Registration) (*instance, bool) {
	for _, in := range h.insts {
		if in.id == reg.Instance {
			return in, true
		}
	}
	for _, in := range h.insts {
		if in.address == reg.Address {
			return in, true
		}
	}
	for _, in := range h.insts {
		if in.restored {
			// Restored from the store at the start, before any
			// registration: the process that registers now replaces
			// it, as one name was one process.
			return in, true
		}
	}
	in := &instance{}
	h.insts = append(h.insts, in)
	return in, false
}

// forgetAfter is how long an instance that is offline or silent, with no
// call in flight, stays listed: then the next registration drops it.
const forgetAfter = time.Hour

// pruneLocked drops instances not heard from for forgetAfter and returns
// their connections, to close without h.mu.
func (h *handlerState) pruneLocked(now time.Time) []Conn {
	var drop []Conn
	h.insts = slices.DeleteFunc(h.insts, func(in *instance) bool {
		stale := in.inFlight == 0 && !in.seen.IsZero() && now.Sub(in.seen) > forgetAfter
		if stale && in.conn != nil {
			drop = append(drop, in.conn)
		}
		return stale
	})
	return drop
}

// ReportStatus implements wire.Registry: a report without an instance id
// is about the instance without one, or, when the handler has none, about
// all of its instances (the embedded handlers, a test).
func (r *registry) ReportStatus(ctx context.Context, handlerID, status string) error {
	return r.ReportInstanceStatus(ctx, handlerID, "", status)
}

var _ wire.InstanceRegistry = (*registry)(nil)

// ReportInstanceStatus implements wire.InstanceRegistry.
func (r *registry) ReportInstanceStatus(ctx context.Context, handlerID, instanceID, status string) error {
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
	now := r.now()
	targets := h.aboutLocked(instanceID)
	if instanceID != "" && len(targets) == 0 {
		h.mu.Unlock()
		return fmt.Errorf("handler %q instance %q: %w", handlerID, instanceID, wire.ErrUnknownHandler)
	}
	for _, in := range targets {
		in.status = status
		in.lastSeen = now
	}
	h.settleLocked(status)
	h.rec.LastSeen = now
	rec := h.rec
	h.broadcast()
	h.mu.Unlock()
	r.logger.Info("handler status", "handler", handlerID, "instance", instanceID, "status", status)
	if err := r.db.PutHandler(ctx, rec); err != nil {
		return fmt.Errorf("handler %q status: %w", handlerID, err)
	}
	r.publish(handlerEvent(handlerID, rec.Status))
	return nil
}

// aboutLocked returns the instances a ping or a report naming instance is
// about: that one; for "", the instance without an id, else every one.
// The caller holds h.mu.
func (h *handlerState) aboutLocked(instanceID string) []*instance {
	for _, in := range h.insts {
		if in.id == instanceID {
			return []*instance{in}
		}
	}
	if instanceID != "" {
		return nil
	}
	return h.insts
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
	var conns []Conn
	for _, in := range h.insts {
		if in.conn != nil {
			conns = append(conns, in.conn)
		}
		in.conn = nil
		in.status = handlerRemoved
	}
	rec := h.rec
	h.broadcast()
	h.mu.Unlock()
	for _, c := range conns {
		_ = c.Close() // a call still on it ends first (drainConn)
	}
	r.logger.Info("handler removed", "handler", id)
	if err := r.db.PutHandler(ctx, rec); err != nil {
		return fmt.Errorf("remove handler %q: %w", id, err)
	}
	r.publish(handlerEvent(id, handlerRemoved))
	return nil
}

// Seen implements wire.Registry.
func (r *registry) Seen(handlerID string) { r.SeenInstance(handlerID, "") }

// SeenInstance implements wire.InstanceRegistry: a ping. An instance that
// was silent past its window, or skipped as unreachable, is ready again,
// and attempts waiting for one look again.
func (r *registry) SeenInstance(handlerID, instanceID string) {
	h, ok := r.get(handlerID)
	if !ok {
		return
	}
	now, wall := r.now(), time.Now()
	h.mu.Lock()
	back := false
	for _, in := range h.aboutLocked(instanceID) {
		back = back || !in.healthy(wall) || in.unreachable
		in.lastSeen, in.seen, in.unreachable = now, wall, false
	}
	h.rec.LastSeen = now
	if back {
		h.broadcast()
	}
	h.mu.Unlock()
}

// snapshot returns every handler's record and health, sorted by id.
func (r *registry) snapshot() []handlerView {
	r.mu.Lock()
	hs := make([]*handlerState, 0, len(r.handlers))
	for _, h := range r.handlers {
		hs = append(hs, h)
	}
	r.mu.Unlock()
	now := time.Now()
	out := make([]handlerView, 0, len(hs))
	var dropped []Conn
	defer func() {
		for _, c := range dropped {
			_ = c.Close()
		}
	}()
	for _, h := range hs {
		h.mu.Lock()
		if h.rec.Address == "" { // a placeholder: never registered
			h.mu.Unlock()
			continue
		}
		// An instance gone for forgetAfter leaves the listing, and so its
		// metric series, even when no registration comes to prune it.
		dropped = append(dropped, h.pruneLocked(now)...)
		v := handlerView{rec: h.rec, instances: make([]instanceView, len(h.insts))}
		for i, in := range h.insts {
			v.instances[i] = in.view(now)
			v.inFlight += in.inFlight
			v.latencyMS += in.latencyMS / float64(len(h.insts))
			v.errorRate += in.errorRate / float64(len(h.insts))
		}
		h.mu.Unlock()
		slices.SortFunc(v.instances, func(a, b instanceView) int { return strings.Compare(a.id+a.address, b.id+b.address) })
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b handlerView) int { return strings.Compare(a.rec.ID, b.rec.ID) })
	return out
}

// handlerView is one handler as snapshot reports it: its record, its
// instances, and their sums (in flight) and means (latency, error rate).
type handlerView struct {
	rec       store.Handler
	inFlight  int
	latencyMS float64
	errorRate float64
	instances []instanceView
}

// each calls fn with every handler.
func (r *registry) each(fn func(*handlerState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.handlers {
		fn(h)
	}
}

// close drops every connection.
func (r *registry) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.handlers {
		h.mu.Lock()
		for _, in := range h.insts {
			if in.conn != nil {
				_ = in.conn.Close()
				in.conn = nil
			}
		}
		h.mu.Unlock()
	}
}
