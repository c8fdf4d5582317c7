// Package scheduler is ScheduleZero's engine: it keeps every active schedule
// in a min-heap ordered by next fire time, sleeps on one timer until the
// earliest is due, and turns each due occurrence into an execution that is
// sent to a handler over the wire.
//
// Why it is built this way:
//
//   - Timer-driven, not polled: an idle scheduler with 10,000 schedules wakes
//     only when something is due, so lateness does not depend on a poll period.
//   - Durable before visible: the engine advances a schedule and writes the
//     execution's attempt as running in one group commit before the job is
//     sent. After kill -9 an occurrence is therefore neither lost nor fired
//     twice; an attempt found running at start-up is marked interrupted and
//     retried or failed by policy.
//   - One writer order: every change to a schedule is applied in memory and
//     queued for commit under the engine's lock, so the store sees schedule
//     writes in the same order as the engine made them.
//   - A dispatch is never repeated because a reply is slow: each attempt has
//     its own deadline; a retry is a new attempt with its own record.
//   - Nothing waits per execution on the common path (send, async.go): a first
//     attempt that got a handler slot when it fired is sent once its commit
//     is durable, and its reply commits the result, all by callbacks. Ten
//     thousand executions in flight used to be ten thousand goroutines with
//     contexts and timers, which cost the garbage collector more than the
//     work itself. Failures, retries and cancellations continue on a
//     goroutine, where the slower code is easier to follow.
//   - Overload is cheap: a fire skipped because the schedule's previous run
//     is still going writes nothing at once; skips are counted and written
//     every few seconds (skipFlushInterval).
package scheduler
