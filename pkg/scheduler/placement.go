package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// An attempt's record names the instance of the pool it was sent to
// (store.Execution.Instance and Host): set when it takes a slot, and
// recorded again when a request that never left moves to another
// instance, so that after a restart recovery asks the process that has
// it, not any process of the name, which would not know it.

// moved records that ex's request, which never left on its instance, is
// sent to the instance of to instead.
func (s *Scheduler) moved(ex *execution, h *handlerState, to Conn) {
	before := ex.rec.Instance
	h.place(&ex.rec, to)
	if ex.rec.Instance == before {
		return
	}
	if err := s.db.Commit(s.execCtx, store.Writes{Executions: []store.Execution{ex.rec}}); err != nil && s.execCtx.Err() == nil {
		s.exLog(ex).Warn("attempt's new instance not recorded", "instance", ex.rec.Instance, "err", err)
	}
}

// acquireFor is acquire for an attempt found running after a restart: it
// waits for the instance id that ran it, which alone can say what became
// of it; an attempt without one (a handler without instance ids, a
// record of an older version) takes any instance matching on, as before.
func (h *handlerState) acquireFor(ctx context.Context, id string, on []string) (Conn, error) {
	if id == "" {
		return h.acquire(ctx, on)
	}
	h.mu.Lock()
	for {
		if h.rec.Status == handlerRemoved {
			name := h.rec.ID
			h.mu.Unlock()
			return nil, fmt.Errorf("handler %q: %w", name, errHandlerRemoved)
		}
		for _, in := range h.insts {
			if in.id == id && in.inFlight < in.limit && in.ready(time.Now, nil) {
				in.inFlight++
				c := in.conn
				h.mu.Unlock()
				return c, nil
			}
		}
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
			name := h.rec.ID
			h.mu.Unlock()
			return nil, fmt.Errorf("handler %q instance %q did not come back before the deadline: %w", name, id, wire.ErrUnavailable)
		}
	}
}
