package scheduler

import (
	"context"
	"time"
)

// acquireBack is acquireFor with wait bounding what Options.RecoveryWait
// means: how long the instance that ran the attempt may take to come
// back. Once it is back, a slot is waited for as long as it stays (for an
// attempt that names no instance, acquireFor waits for a free one): after
// a failover with a backlog, hundreds of attempts to ask share the
// handler with the new fires, and giving up on a handler that is there
// but busy would run again an attempt it may have run already.
func (h *handlerState) acquireBack(ctx context.Context, id string, on []string, wait time.Duration) (Conn, error) {
	for {
		wctx, cancel := context.WithTimeout(ctx, wait)
		c, err := h.acquireFor(wctx, id, on)
		cancel()
		if err == nil || ctx.Err() != nil || !h.isBack(id, on) {
			return c, err
		}
	}
}

// isBack reports whether instance id (any instance matching on when id is
// empty) has registered since the restart and is ready: known, not merely
// restored, and not gone silent since.
func (h *handlerState) isBack(id string, on []string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, in := range h.insts {
		if !in.restored && (id == "" || in.id == id) && in.ready(time.Now, on) {
			return true
		}
	}
	return false
}
