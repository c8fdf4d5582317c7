package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// DefaultRecoveryWait bounds how long, after a restart, an attempt found
// running waits for its handler to register again so that it can be asked
// about it (Options.RecoveryWait). Our runner registers again within a
// second of the first request it refuses for its job token, which the
// question itself is until then.
const DefaultRecoveryWait = 10 * time.Second

// NoteRecovered is the note of an attempt whose outcome came from the
// handler's journal after a restart of the scheduler, instead of a re-run.
const NoteRecovered = "recovered from handler"

// asksHandler reports whether an attempt of handler id found running after
// a restart is asked about (its handler registered last with protocol 5 or
// later: it answers sz.known, from its journal when it keeps one) instead
// of being marked interrupted.
func (s *Scheduler) asksHandler(id string) bool {
	h, ok := s.reg.get(id)
	if !ok {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return min(h.rec.Protocol, wire.ProtocolLatest) >= wire.ProtocolJournal
}

// recoverAttempt settles ex, an attempt that the previous run left recorded
// running, by asking its handler (wire.MethodKnown) before anything runs
// again: finished, its stored reply is recorded as the attempt's outcome
// (noted NoteRecovered); running, the request is sent again, which the
// handler attaches to the job in progress, and its reply is recorded
// within the attempt's own deadline; unknown (or the instance not back
// within RecoveryWait, or no answer within RecoveryWait once a slot of it
// was free), the attempt is interrupted and retried as before. All of
// it is recorded through the same commits as any attempt.
func (s *Scheduler) recoverAttempt(ctx context.Context, ex *execution) (retry, ok bool) {
	h := s.reg.await(ex.rec.HandlerID)
	wait := s.opts.RecoveryWait
	if wait <= 0 {
		wait = DefaultRecoveryWait
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	unhook := context.AfterFunc(s.waitCtx, cancel)
	defer unhook()
	conn, err := h.acquireBack(wctx, ex.rec.Instance, ex.policy.On, wait)
	if err != nil {
		if s.waitCtx.Err() != nil {
			return false, false
		}
		s.recovered(ex, "no_answer")
		who := "its handler"
		if ex.rec.Instance != "" {
			who = fmt.Sprintf("the instance %q that ran it", ex.rec.Instance)
		}
		return s.interrupt(ex, fmt.Sprintf("%s did not come back within %s to be asked", who, wait))
	}
	// The question has its own RecoveryWait: the handler, back, answers
	// at once unless it is gone again.
	actx, acancel := context.WithTimeout(wctx, wait)
	defer acancel()
	k, conn, err := s.askAt(actx, h, conn, ex)
	if err != nil {
		s.recovered(ex, "no_answer")
	} else {
		s.recovered(ex, k.State)
	}
	switch {
	case s.waitCtx.Err() != nil:
		h.release(conn, 0, false)
		return false, false
	case err != nil:
		h.release(conn, 0, false)
		return s.interrupt(ex, "its handler could not say whether it ran it: "+err.Error())
	case k.State == wire.KnownUnknown:
		h.release(conn, 0, false)
		return s.interrupt(ex, "its handler does not know it (it never received it, or no longer remembers it)")
	}
	start := ex.rec.StartedAt
	if start.IsZero() {
		start = s.now()
	}
	req := s.request(ex, start)
	callCtx, callCancel := context.WithDeadline(ctx, start.Add(ex.timeout))
	defer callCancel()
	reply := k.Reply
	if k.State == wire.KnownFinished {
		s.exLog(ex).Info("attempt " + NoteRecovered + "'s journal after a restart; not run again")
	}
	if k.State == wire.KnownRunning {
		s.exLog(ex).Info("attempt still running on its handler after a restart; waiting for its reply")
		reply, err = conn.Call(callCtx, req) // attached to the run in progress, not run again
	}
	ex.note = NoteRecovered
	return s.outcome(ctx, call{callCtx: callCtx, ex: ex, h: h, conn: conn, req: req, start: start, reply: reply, err: err})
}

// ask sends wire.MethodKnown about ex's attempt on conn, and again on h's
// newer connection while the handler refuses it unasked ("not_run": a
// restored connection carries no job token until the handler registers
// again) or cannot be reached, until ctx ends.
func (s *Scheduler) ask(ctx context.Context, h *handlerState, conn Conn, ex *execution) (wire.Known, Conn, error) {
	req := wire.KnownRequest(ex.rec.ID, ex.rec.Attempt)
	pause := unsentRetryMin
	for {
		if h.elsewhere(conn, ex.rec.Instance) {
			return wire.Known{}, conn, errElsewhere
		}
		changed, unwatch := h.watch()
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		reply, err := conn.Call(cctx, req)
		cancel()
		err = notRun(reply, err)
		if err == nil {
			unwatch()
			k, err := wire.DecodeKnown(reply)
			return k, conn, err
		}
		if !errors.Is(err, wire.ErrUnavailable) && !errors.Is(err, wire.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			unwatch()
			return wire.Known{}, conn, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			unwatch()
			return wire.Known{}, conn, fmt.Errorf("no answer: %w", err)
		case <-changed:
		case <-t.C:
			pause = min(2*pause, unsentRetryMax)
		}
		t.Stop()
		unwatch()
		conn, _ = h.current(conn)
	}
}

// interrupt records ex's attempt, found running after a restart, as
// interrupted because of why, and the next attempt pending when attempts
// are left (as recover did before handlers were asked).
func (s *Scheduler) interrupt(ex *execution, why string) (retry, ok bool) {
	return s.finishRetry(ex, true, store.StatusInterrupted, nil,
		"the scheduler stopped while this attempt was running, and "+why+"; its outcome is unknown")
}

// recovered tells Options.OnRecovery how ex's handler answered.
func (s *Scheduler) recovered(ex *execution, answer string) {
	if s.opts.OnRecovery != nil && s.waitCtx.Err() == nil {
		s.opts.OnRecovery(ex.rec.HandlerID, answer)
	}
}
