package api

import (
	"context"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Backend is what the REST API needs from the scheduler engine.
//
// Errors are mapped to HTTP statuses once, in this package: a *field.Error is
// 400, store.ErrNotFound 404, store.ErrExists 409, wire.ErrUnavailable 503,
// wire.ErrTimeout and context.DeadlineExceeded 504, anything else 500.
type Backend interface {
	AddSchedule(ctx context.Context, req schedtype.ScheduleRequest) (store.Schedule, error)
	GetSchedule(ctx context.Context, id string) (store.Schedule, error)
	ListSchedules(ctx context.Context) ([]store.Schedule, error)
	// SchedulePage returns up to limit schedules by id, from the first
	// after after (from the first of all when empty), and whether more
	// follow; its cost is the page's, not the table's.
	SchedulePage(ctx context.Context, after string, limit int) (page []store.Schedule, more bool, err error)
	DeleteSchedule(ctx context.Context, id string) error
	PauseSchedule(ctx context.Context, id string) (store.Schedule, error)
	ResumeSchedule(ctx context.Context, id string) (store.Schedule, error)
	// UpdateSchedule edits a schedule in place (trigger, params, policy...);
	// its id, counters and history stay.
	UpdateSchedule(ctx context.Context, id string, u schedtype.ScheduleUpdate) (store.Schedule, error)
	// TriggerSchedule fires schedule id now, outside its trigger, without
	// waiting for it to finish, and answers with what the engine decided,
	// once durable. The overlap policy applies unless force: a run that
	// started returns its first attempt (status pending or running); a
	// skipped one its "missed" record (the reason in Error); a queued one
	// a record without ID, status pending, the reason in Error.
	TriggerSchedule(ctx context.Context, id string, force bool) (store.Execution, error)
	// Backfill runs every occurrence of schedule id in [from, to], in order,
	// one after another.
	Backfill(ctx context.Context, id string, from, to time.Time) (schedtype.BackfillResult, error)
	// RunNow calls method on a handler once and waits for the final attempt
	// (the original's /api/run_now). The execution is recorded in history.
	RunNow(ctx context.Context, req schedtype.RunRequest) (store.Execution, error)
	// Handlers lists the known handlers, removed ones included (status
	// "removed"): the API lists only the others, and flags the schedules
	// of every handler that is not online.
	Handlers(ctx context.Context) ([]schedtype.HandlerStatus, error)
	// RemoveHandler forgets a handler (schedulezero handlers remove): no
	// more jobs, fires of its schedules recorded missed with the reason.
	RemoveHandler(ctx context.Context, id string) error
	Executions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error)
	// ExecutionPage is one page of Executions, from f.Cursor on (see
	// store.DB.ListExecutionsPage).
	ExecutionPage(ctx context.Context, f store.ExecutionFilter) (store.ExecutionPage, error)
	Stats(ctx context.Context) (store.Stats, error)
	// MissedCount is the sum of the schedules' missed counts, without
	// listing them.
	MissedCount(ctx context.Context) (int64, error)
	ClearExecutions(ctx context.Context) error
}
