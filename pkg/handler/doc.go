// Package handler is the runner library for ScheduleZero handlers: a
// handler binary is a Mux of methods passed to Serve, which binds the job
// socket, registers with the scheduler, runs jobs concurrently with their
// deadlines and cancellation, keeps the registration alive across scheduler
// restarts and reports "stopping", then "offline", on stop.
//
// It exists so that writing a handler takes a few lines (see
// docs/handlers.md) while every handler gets the fixes the original's
// Python handlers lacked: concurrent jobs, deadlines, cancel, no stuck
// sockets. The job socket is a ROUTER, so it serves both a scheduler that
// speaks the original protocol (REQ, one job at a time) and ours (DEALER,
// pipelined jobs correlated by id).
package handler
