package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Start recovers executions that a previous run left unfinished and starts
// the timer loop. It returns once the loop runs.
func (s *Scheduler) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("scheduler: already started")
	}
	s.mu.Lock()
	s.startedAt = s.now()
	s.mu.Unlock()
	if err := s.recover(ctx); err != nil {
		return err
	}
	go s.loop()
	return nil
}

// Stop stops firing, gives running attempts until ctx is done to finish, then
// cancels them. A cancelled attempt stays recorded as running and is marked
// interrupted (and retried by policy) when the scheduler starts again, the
// same as after a crash. Stop is idempotent and safe before Start.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		s.waitCancel()
		s.drainSlotQueues()
		close(s.stopLoop)
		if s.started.Load() {
			<-s.loopDone
		}
		s.mu.Lock()
		s.flushSkipsLocked() // recorded pending: nothing is launched
		s.mu.Unlock()
		done := make(chan struct{})
		go func() { s.execWG.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.logger.Warn("stop budget spent; cancelling running attempts")
			s.execCancel()
			s.abortRunning(errStopping)
			<-done
		}
		s.execCancel()
		s.reg.close()
	})
	return nil
}

// Stall freezes the engine loop so that health checks fail (fault injection
// for the watchdog test). It cannot be undone except by a restart.
func (s *Scheduler) Stall() { s.stalled.Store(true); s.Nudge() }

// Health reports whether the engine loop turns and the store answers.
func (s *Scheduler) Health(ctx context.Context) error {
	reply := make(chan struct{})
	select {
	case s.heartbeat <- reply:
	case <-ctx.Done():
		return fmt.Errorf("engine loop does not answer: %w", ctx.Err())
	}
	select {
	case <-reply:
	case <-ctx.Done():
		return fmt.Errorf("engine loop does not answer: %w", ctx.Err())
	}
	if _, err := s.db.ListHandlers(ctx); err != nil {
		return fmt.Errorf("store does not answer: %w", err)
	}
	return nil
}

// Summary is a one-line live status for systemd's STATUS=.
func (s *Scheduler) Summary() string {
	s.mu.Lock()
	n := s.entries.len()
	var next time.Time
	if len(s.heap) > 0 {
		next = s.heap[0].due()
	}
	running := len(s.running)
	s.mu.Unlock()
	online := 0
	for _, h := range s.reg.snapshot() {
		if h.rec.Status == handlerOnline {
			online++
		}
	}
	line := fmt.Sprintf("%d schedules, %d handlers online, %d running", n, online, running)
	if !next.IsZero() {
		line += ", next fire " + next.In(s.opts.Location).Format("2006-01-02 15:04:05")
	}
	return line
}

// Nudge makes the loop look at the clock again now. The daemon calls it when
// the host's wall clock was set, so that a jump forward fires what became
// due instead of waiting out a timer armed before the jump.
func (s *Scheduler) Nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop sleeps until the earliest schedule is due, fires everything due, and
// repeats. It also answers health heartbeats, so a stuck loop is visible.
func (s *Scheduler) loop() {
	defer close(s.loopDone)
	alarm := s.newAlarm(s.Nudge)
	defer alarm.Close()
	var fired time.Time // the last turn that fired
	for {
		if s.stalled.Load() {
			s.logger.Error("engine loop stalled by fault injection")
			<-s.stopLoop
			return
		}
		s.mu.Lock()
		now := s.now()
		s.throttled = false
		for len(s.heap) > 0 && !s.heap[0].due().After(now) && !s.fullLocked() {
			s.fireLocked(s.heap[0], now)
			fired = now
		}
		if !s.flushAt.IsZero() && !s.flushAt.After(now) {
			s.flushSkipsLocked()
		}
		wait := time.Duration(-1)
		if len(s.heap) > 0 && !s.throttled {
			wait = max(s.heap[0].due().Sub(now), fired.Add(fireQuantum).Sub(now))
		}
		if !s.flushAt.IsZero() && (wait < 0 || s.flushAt.Sub(now) < wait) {
			wait = s.flushAt.Sub(now)
		}
		gate := s.lastGate
		s.mu.Unlock()

		// Backpressure: fires offered faster than the disk commits them
		// would grow the commit queue without bound. Wait until what is
		// queued is durable; what falls due meanwhile is late and handled
		// by the misfire policy, with a record of it.
		if gate != nil && s.db.Queued() > backpressureBatches*s.db.MaxBatch() {
			select {
			case <-gate.doneChan():
			case <-s.stopLoop:
				return
			}
		}

		if wait >= 0 {
			alarm.Reset(wait)
		} else {
			alarm.Stop()
		}
		select {
		case <-s.wake:
		case reply := <-s.heartbeat:
			close(reply)
		case <-s.stopLoop:
			return
		}
	}
}

// fullLocked reports whether MaxInFlight executions holding a slot taken
// at fire time are in flight (Scheduler.bounded), and if
// so marks the loop throttled: it then waits for finishedLocked to make
// room rather than for the clock. The caller holds s.mu.
func (s *Scheduler) fullLocked() bool {
	s.throttled = s.bounded >= s.opts.MaxInFlight
	return s.throttled
}
