// Package wire speaks ScheduleZero's ZeroMQ protocol: one frame of UTF-8 JSON
// per message, compatible with the original Python handlers (REQ/REP) and
// extended for the Go runner (concurrent jobs correlated by id, batches, and
// a job token that proves a job comes from the scheduler the handler
// registered with). See docs/protocol.md and docs/security.md.
//
// zmq4's Send and Recv take no context, so this package owns every deadline:
// each exported call that waits takes a context and returns when it is done.
package wire
