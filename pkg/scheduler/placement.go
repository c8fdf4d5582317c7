package scheduler

import (
	"context"
	"errors"
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

// errElsewhere: the connection a recovery question was about to go on
// turned out to be another instance's than the one that ran the attempt.
var errElsewhere = errors.New("connection of another instance")

// askAt asks about ex's attempt (ask) at the instance that ran it: when
// conn, a slot of the instance restored from the store, turns out to be
// another instance's (its process registered again, which the question
// provokes), the slot goes back and the question waits for the right one.
func (s *Scheduler) askAt(ctx context.Context, h *handlerState, conn Conn, ex *execution) (wire.Known, Conn, error) {
	for {
		k, c, err := s.ask(ctx, h, conn, ex)
		if !errors.Is(err, errElsewhere) {
			return k, c, err
		}
		h.release(c, 0, false)
		if conn, err = h.acquireFor(ctx, ex.rec.Instance, ex.policy.On); err != nil {
			return wire.Known{}, nil, err
		}
	}
}

// elsewhere reports whether conn belongs to an instance known not to be
// id; a restored instance is not known yet.
func (h *handlerState) elsewhere(conn Conn, id string) bool {
	in := owner(conn)
	if id == "" || in == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !in.restored && in.id != id
}

// acquireFor is acquire for an attempt found running after a restart: it
// waits for the instance id that ran it, which alone can say what became
// of it; an attempt without one (a handler without instance ids, a
// record of an older version) takes any instance matching on, as before.
//
// Until that instance registers, the instance restored from the store (the
// name's last registration, its id unknown) is taken: a question on it
// makes its process register again at once (it refuses a connection
// without its job token), which says whose it is. Most often it is the
// one (a handler of one process); if not, askAt comes back here. Other
// instances of a pool register at their next ping, which may be after
// the recovery wait.
//
// The slot is taken past the instance's limit: the question (sz.known)
// runs no job on the handler, nor does the copy of a running attempt sent
// after it, which attaches to the run. Waiting for a free slot behind the
// new fires, which take every slot as it frees, delayed the questions of a
// failover with a backlog by tens of seconds, past what the handler's
// journal remembers.
func (h *handlerState) acquireFor(ctx context.Context, id string, on []string) (Conn, error) {
	if id == "" {
		return h.acquire(ctx, on)
	}
	return h.takeWhenReady(ctx, nil, func() *instance {
		var probe *instance
		for _, in := range h.insts {
			if !in.ready(time.Now, nil) {
				continue
			}
			if in.id == id && !in.restored {
				return in
			}
			if in.restored {
				probe = in
			}
		}
		return probe
	}, func() error {
		return fmt.Errorf("handler %q instance %q did not come back before the deadline: %w", h.rec.ID, id, wire.ErrUnavailable)
	})
}
