package api

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// legacyBuffer is the size of the original's in-memory history: its
// endpoints saw the newest 1,000 executions. The original dialect shows the
// same window of our durable history; /api/v1 sees all of it.
const legacyBuffer = 1000

// statusRetry is the original's state of an execution between two attempts:
// one failed and the next is pending or running.
const statusRetry = "retry"

// legacyRecord is one execution as the original's history showed it: its
// attempts folded into one record, every field present and null when empty.
type legacyRecord struct {
	ExecutionID   string          `json:"execution_id"`
	JobID         *string         `json:"job_id"`
	HandlerID     string          `json:"handler_id"`
	MethodName    string          `json:"method_name"`
	StartedAt     *string         `json:"started_at"`
	CompletedAt   *string         `json:"completed_at"`
	DurationMS    *float64        `json:"duration_ms"`
	Status        string          `json:"status"`
	Result        json.RawMessage `json:"result"`
	Error         *string         `json:"error"`
	AttemptNumber int             `json:"attempt_number"`
	MaxAttempts   int             `json:"max_attempts"`
	ParamsSummary *string         `json:"params_summary"`

	finished bool
	missed   bool
}

// legacyTime is the original's rendering of a time: ISO 8601 with at most
// microseconds, null when unset.
func legacyTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format("2006-01-02T15:04:05.999999Z07:00")
	return &s
}

func strOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// foldExecution turns the attempts of one execution (any order) into the
// original's single record: the status and end of the newest attempt, the
// start of the first, and "retry" while a retry is pending or running.
func foldExecution(attempts []store.Execution) legacyRecord {
	slices.SortFunc(attempts, func(a, b store.Execution) int { return a.Attempt - b.Attempt })
	first, last := attempts[0], attempts[len(attempts)-1]
	r := legacyRecord{
		ExecutionID: last.ID, JobID: strOrNull(last.ScheduleID), HandlerID: last.HandlerID, MethodName: last.Method,
		StartedAt: legacyTime(cmpTime(first.StartedAt, last.StartedAt)), Status: string(last.Status),
		Result: rawOrNull(last.Result), Error: strOrNull(last.Error),
		AttemptNumber: last.Attempt, MaxAttempts: last.MaxAttempts,
		finished: last.Status.Finished(), missed: last.Status == store.StatusMissed,
	}
	for _, a := range attempts {
		if r.ParamsSummary == nil {
			r.ParamsSummary = strOrNull(a.ParamsSummary)
		}
	}
	if !r.finished && len(attempts) > 1 {
		r.Status = statusRetry
		r.Error = strOrNull(attempts[len(attempts)-2].Error)
	}
	if r.finished {
		r.CompletedAt = legacyTime(last.CompletedAt)
		// From the first start to the end, retries included, as the
		// original timed it; null for what never started (missed).
		if start := cmpTime(first.StartedAt, last.StartedAt); !start.IsZero() && !last.CompletedAt.IsZero() {
			d := math.Round(float64(last.CompletedAt.Sub(start))/float64(time.Millisecond)*1000) / 1000
			r.DurationMS = &d
		}
	}
	return r
}

// cmpTime returns the first non-zero time.
func cmpTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// legacyWindow is the original's view of history: the newest legacyBuffer
// executions, newest first, each folded from its attempts. full says that
// older executions exist beyond the window.
func (s *server) legacyWindow(ctx context.Context) (recs []legacyRecord, full bool, err error) {
	// Most executions have one attempt; ask for more until the window is
	// complete or the history ends. The store lists attempts newest first
	// by execution id, so every group but the last one read is whole.
	limit := 2 * legacyBuffer
	for {
		atts, err := s.b.Executions(ctx, store.ExecutionFilter{Limit: limit})
		if err != nil {
			return nil, false, err
		}
		groups := groupAttempts(atts)
		exhausted := len(atts) < limit
		if exhausted || len(groups) > legacyBuffer || limit >= legacyBuffer*maxLegacyAttempts {
			full = len(groups) > legacyBuffer || !exhausted
			groups = groups[:min(len(groups), legacyBuffer)]
			recs = make([]legacyRecord, len(groups))
			for i, g := range groups {
				recs[i] = foldExecution(g)
			}
			return recs, full, nil
		}
		limit *= 4
	}
}

// maxLegacyAttempts bounds the attempts one window read may need per
// execution (the engine allows at most 100).
const maxLegacyAttempts = 100

// groupAttempts groups attempts by execution id, in the order the ids first
// appear.
func groupAttempts(atts []store.Execution) [][]store.Execution {
	var out [][]store.Execution
	at := map[string]int{}
	for _, a := range atts {
		i, ok := at[a.ID]
		if !ok {
			i = len(out)
			at[a.ID] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], a)
	}
	return out
}

// lifetime counts the executions in the whole durable history: the window
// when it holds all of them, else one walk of the history.
func (s *server) lifetime(ctx context.Context, window []legacyRecord, full bool) (int, error) {
	if !full {
		return len(window), nil
	}
	atts, err := s.b.Executions(ctx, store.ExecutionFilter{})
	if err != nil {
		return 0, err
	}
	ids := map[string]struct{}{}
	for _, a := range atts {
		ids[a.ID] = struct{}{}
	}
	return len(ids), nil
}

// legacyStatsBody is the original's stats shape, over the window.
type legacyStatsBody struct {
	TotalExecutions    int                           `json:"total_executions"`
	LifetimeExecutions int                           `json:"lifetime_executions"`
	SuccessCount       int                           `json:"success_count"`
	ErrorCount         int                           `json:"error_count"`
	SuccessRate        float64                       `json:"success_rate"`
	AvgDurationMS      float64                       `json:"avg_duration_ms"`
	ByHandler          map[string]store.HandlerStats `json:"by_handler"`
	ByStatus           map[string]int                `json:"by_status"`
	BufferSize         int                           `json:"buffer_size"`
	BufferUtilization  float64                       `json:"buffer_utilization"`
}

// legacyStats counts the window's executions: error_count is every finished
// state but success, and success_rate (percent) leaves out missed
// occurrences, which never ran.
func legacyStats(window []legacyRecord) legacyStatsBody {
	b := legacyStatsBody{
		TotalExecutions: len(window), ByHandler: map[string]store.HandlerStats{}, ByStatus: map[string]int{},
		BufferSize: legacyBuffer, BufferUtilization: round2(float64(len(window)) / legacyBuffer * 100),
	}
	var durSum float64
	var durN, missed int
	hdur := map[string]float64{}
	for _, r := range window {
		b.ByStatus[r.Status]++
		if !r.finished {
			continue
		}
		h := b.ByHandler[r.HandlerID]
		h.Total++
		if r.Status == string(store.StatusSucceeded) {
			b.SuccessCount++
			h.Succeeded++
		} else {
			b.ErrorCount++
			h.Failed++
		}
		if r.missed {
			missed++
		}
		if r.DurationMS != nil {
			durSum += *r.DurationMS
			durN++
			hdur[r.HandlerID] += *r.DurationMS
		}
		b.ByHandler[r.HandlerID] = h
	}
	if ran := b.SuccessCount + b.ErrorCount - missed; ran > 0 {
		b.SuccessRate = round2(float64(b.SuccessCount) / float64(ran) * 100)
	}
	if durN > 0 {
		b.AvgDurationMS = round2(durSum / float64(durN))
	}
	for id, h := range b.ByHandler {
		if h.Total > 0 {
			h.AvgDurationMS = round2(hdur[id] / float64(h.Total))
		}
		b.ByHandler[id] = h
	}
	return b
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// legacyErrorStatuses are the finished states the original reported as
// errors.
var legacyErrorStatuses = []store.Status{store.StatusFailed, store.StatusTimedOut, store.StatusInterrupted, store.StatusCancelled, store.StatusMissed}

func isLegacyError(r legacyRecord) bool {
	return slices.ContainsFunc(legacyErrorStatuses, func(st store.Status) bool { return string(st) == r.Status })
}

// legacyFilter keeps the window's records that match the original's query
// parameters handler_id, job_id and status, at most limit of them.
func legacyFilter(window []legacyRecord, handlerID, jobID, status string, limit int) []legacyRecord {
	out := []legacyRecord{}
	for _, r := range window {
		if len(out) == limit {
			break
		}
		if handlerID != "" && r.HandlerID != handlerID || jobID != "" && (r.JobID == nil || *r.JobID != jobID) ||
			status != "" && !strings.EqualFold(r.Status, status) {
			continue
		}
		out = append(out, r)
	}
	return out
}
