package metric

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/version"
)

// The missed reasons: the engine's sentences mapped to a closed set
// (MissReason).
const (
	MissOutage         = "outage"          // the scheduler was not running
	MissPaused         = "paused"          // the schedule was paused
	MissLate           = "late"            // the engine fired late (overload, clock jump)
	MissOverlap        = "overlap"         // the previous run was still running (skip, full queue)
	MissHandlerRemoved = "handler_removed" // its handler was removed
	MissHandlerOffline = "handler_offline" // no handler took it in time
	MissOther          = "other"
)

// Bucket bounds, in seconds.
var (
	latenessBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300}
	durationBuckets = []float64{0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600}
	commitBuckets   = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1}
	batchBuckets    = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}
)

var schedulerFamilies = map[string]family{
	"schedulezero_build_info":                    {"gauge", "The scheduler's version (value 1)."},
	"schedulezero_fires_total":                   {"counter", "Fires: due occurrences of schedules the engine handled (run or missed), by handler."},
	"schedulezero_fire_lateness_seconds":         {"histogram", "How late each fire was after its due time."},
	"schedulezero_attempts_total":                {"counter", "Attempts that ended, by handler and status."},
	"schedulezero_executions_total":              {"counter", "Executions that ended for good (no retry follows), by handler and final status."},
	"schedulezero_execution_duration_seconds":    {"histogram", "Duration of ended attempts (round trip to the handler), by handler."},
	"schedulezero_recoveries_total":              {"counter", "Attempts found running after a restart, by handler and the handler's answer (finished: recorded from its journal; running: attached to; unknown: retried; no_answer)."},
	"schedulezero_missed_total":                  {"counter", "Occurrences that did not run, by handler and reason (outage, paused, late, overlap, handler_removed, handler_offline, other)."},
	"schedulezero_executions_in_flight":          {"gauge", "Attempts sent to a handler and not yet ended."},
	"schedulezero_schedules":                     {"gauge", "Schedules by state (active, paused, done)."},
	"schedulezero_schedules_overdue":             {"gauge", "Active schedules whose next fire is more than a minute past."},
	"schedulezero_last_fire_timestamp_seconds":   {"gauge", "Unix time of the last fire (0: none since start)."},
	"schedulezero_handler_up":                    {"gauge", "1 while the handler is registered and online, 0 while offline."},
	"schedulezero_handler_latency_seconds":       {"gauge", "Moving average of the handler's job round trips."},
	"schedulezero_handler_error_ratio":           {"gauge", "Fraction of the handler's recent attempts that failed."},
	"schedulezero_handler_in_flight":             {"gauge", "Attempts running on the handler."},
	"schedulezero_instance_up":                   {"gauge", "1 while the instance (one process of a handler) is online and healthy, 0 while routed around; by handler, instance and host."},
	"schedulezero_instance_in_flight":            {"gauge", "Attempts running on the instance."},
	"schedulezero_instance_latency_seconds":      {"gauge", "Moving average of the instance's job round trips."},
	"schedulezero_instance_error_ratio":          {"gauge", "Fraction of the instance's recent attempts that failed."},
	"schedulezero_instance_errors_total":         {"counter", "Attempts that failed on the instance since it joined its pool."},
	"schedulezero_store_commit_seconds":          {"histogram", "Latency of each group-commit transaction, fsync included."},
	"schedulezero_store_commit_records":          {"histogram", "Records applied by each group-commit transaction."},
	"schedulezero_store_file_bytes":              {"gauge", "Size of the store file."},
	"schedulezero_notification_deliveries_total": {"counter", "Notification deliveries, by event (failure, missed, recovery, dead_man, test) and outcome (sent, failed: given up, retry: failed and retried)."},
}

// Source is what a scrape reads from the engine. It is declared here, in
// the package's own types, so that the governor, which links this package,
// does not link the engine.
type Source interface {
	Schedules(now time.Time) Schedules
	Handlers(ctx context.Context) ([]Handler, error)
}

// Schedules counts the schedules by state.
type Schedules struct {
	Active, Paused, Done, Overdue int
}

// Handler is one registered handler as the engine sees it.
type Handler struct {
	ID        string
	Online    bool
	Removed   bool
	InFlight  int
	LatencyMS float64 // moving average of job round trips
	ErrorRate float64 // fraction of recent attempts that failed
	// Instances are the processes serving it; their series exist while
	// the engine lists them and go with them.
	Instances []Instance
}

// Instance is one process of a handler: ID is its instance id, or its
// address for a process that sent none.
type Instance struct {
	ID, Host  string
	Up        bool // online and healthy: it gets work
	InFlight  int
	LatencyMS float64
	ErrorRate float64
	Errors    int64 // failed attempts since it joined
}

// Scheduler holds the scheduler's series. Its Observe is an event
// observer, Fire a scheduler LatenessFunc, Commit a store CommitFunc; each
// is cheap and never blocks on a scrape.
type Scheduler struct {
	x        exposition
	fires    map[string]*vm.Counter // by handler
	lateness *vm.PrometheusHistogram
	commit   *vm.PrometheusHistogram
	batch    *vm.PrometheusHistogram

	mu        sync.Mutex // the maps below and inFlight; Observe runs in event order
	counters  map[counterKey]*vm.Counter
	durations map[string]*vm.PrometheusHistogram
	started   map[attemptKey]struct{}
	lastFire  time.Time

	src    Source
	dbPath string
}

type counterKey struct{ name, handler, value string }

type attemptKey struct {
	id      string
	attempt int
}

// NewScheduler returns the scheduler's series, all zero.
func NewScheduler() *Scheduler {
	set := vm.NewSet()
	m := &Scheduler{
		fires:     map[string]*vm.Counter{},
		lateness:  set.NewPrometheusHistogramExt("schedulezero_fire_lateness_seconds", latenessBuckets),
		commit:    set.NewPrometheusHistogramExt("schedulezero_store_commit_seconds", commitBuckets),
		batch:     set.NewPrometheusHistogramExt("schedulezero_store_commit_records", batchBuckets),
		counters:  map[counterKey]*vm.Counter{},
		durations: map[string]*vm.PrometheusHistogram{},
		started:   map[attemptKey]struct{}{},
	}
	set.NewGauge(`schedulezero_build_info{version=`+label(version.Version)+`}`, func() float64 { return 1 })
	m.x = exposition{set: set, families: schedulerFamilies, scrape: m.scrape}
	return m
}

// Handler serves the exposition, reading the engine from src and the
// store file's size from dbPath at each scrape.
func (m *Scheduler) Handler(src Source, dbPath string) http.Handler {
	m.mu.Lock()
	m.src, m.dbPath = src, dbPath
	m.mu.Unlock()
	return &m.x
}

// Write writes the exposition to w.
func (m *Scheduler) Write(w io.Writer) error { return m.x.write(w) }

// Fire counts a fire of a schedule of handler, late by lateness.
func (m *Scheduler) Fire(handler string, lateness time.Duration) {
	m.lateness.Update(max(lateness, 0).Seconds())
	m.mu.Lock()
	m.lastFire = time.Now()
	c := m.fires[handler]
	if c == nil {
		c = m.x.set.NewCounter(`schedulezero_fires_total{handler=` + label(handler) + `}`)
		m.fires[handler] = c
	}
	m.mu.Unlock()
	c.Inc()
}

// Commit observes a group commit of records records that took took.
func (m *Scheduler) Commit(records int, took time.Duration) {
	m.commit.Update(took.Seconds())
	m.batch.Update(float64(records))
}

// Notification counts a notification delivery's outcome (a notify
// OutcomeFunc).
func (m *Scheduler) Notification(event, outcome string) {
	m.mu.Lock()
	k := counterKey{"schedulezero_notification_deliveries_total", event, outcome}
	c := m.counters[k]
	if c == nil {
		c = m.x.set.NewCounter(`schedulezero_notification_deliveries_total{event=` + label(event) + `,outcome=` + label(outcome) + `}`)
		m.counters[k] = c
	}
	m.mu.Unlock()
	c.Inc()
}

// Recovery counts how a handler answered when asked, after a restart,
// about an attempt found running (a scheduler.Options.OnRecovery):
// finished (recorded from its journal, not run again), running (attached
// to), unknown (retried by policy) or no_answer.
func (m *Scheduler) Recovery(handler, answer string) {
	m.mu.Lock()
	c := m.counterLocked("schedulezero_recoveries_total", handler, "answer", answer)
	m.mu.Unlock()
	c.Inc()
}

// Observe counts an engine event.
func (m *Scheduler) Observe(e event.Event) {
	switch e.Kind {
	case event.ExecutionStarted:
		m.mu.Lock()
		m.started[attemptKey{e.ExecutionID, e.Attempt}] = struct{}{}
		m.mu.Unlock()
	case event.ExecutionFinished:
		m.mu.Lock()
		delete(m.started, attemptKey{e.ExecutionID, e.Attempt})
		m.counterLocked("schedulezero_attempts_total", e.HandlerID, "status", e.Status).Inc()
		if e.Final {
			m.counterLocked("schedulezero_executions_total", e.HandlerID, "status", e.Status).Inc()
		}
		h := m.durations[e.HandlerID]
		if h == nil {
			h = m.x.set.NewPrometheusHistogramExt(`schedulezero_execution_duration_seconds{handler=`+label(e.HandlerID)+`}`, durationBuckets)
			m.durations[e.HandlerID] = h
		}
		m.mu.Unlock()
		if e.DurationMS > 0 {
			h.Update(e.DurationMS / 1000)
		}
	case event.ExecutionMissed:
		m.mu.Lock()
		c := m.counterLocked("schedulezero_missed_total", e.HandlerID, "reason", MissReason(e.Reason))
		m.mu.Unlock()
		c.Add(missedCount(e.Reason))
	}
}

// counterLocked is the counter name{handler, key=value}, created on first
// use. The caller holds m.mu.
func (m *Scheduler) counterLocked(name, handler, key, value string) *vm.Counter {
	k := counterKey{name, handler, value}
	c := m.counters[k]
	if c == nil {
		c = m.x.set.NewCounter(name + `{handler=` + label(handler) + `,` + key + `=` + label(value) + `}`)
		m.counters[k] = c
	}
	return c
}

// scrape writes the series read at scrape time.
func (m *Scheduler) scrape(w io.Writer) {
	m.mu.Lock()
	src, dbPath, inFlight, last := m.src, m.dbPath, len(m.started), m.lastFire
	m.mu.Unlock()
	fmt.Fprintf(w, "schedulezero_executions_in_flight %d\n", inFlight)
	var lastTS float64
	if !last.IsZero() {
		lastTS = float64(last.UnixMilli()) / 1000
	}
	fmt.Fprintf(w, "schedulezero_last_fire_timestamp_seconds %g\n", lastTS)
	if dbPath != "" {
		if fi, err := os.Stat(dbPath); err == nil {
			fmt.Fprintf(w, "schedulezero_store_file_bytes %d\n", fi.Size())
		}
	}
	if src == nil {
		return
	}
	c := src.Schedules(time.Now())
	fmt.Fprintf(w, "schedulezero_schedules{state=\"active\"} %d\nschedulezero_schedules{state=\"paused\"} %d\nschedulezero_schedules{state=\"done\"} %d\n", c.Active, c.Paused, c.Done)
	fmt.Fprintf(w, "schedulezero_schedules_overdue %d\n", c.Overdue)
	hs, err := src.Handlers(context.Background())
	if err != nil {
		return
	}
	var up, lat, errs, infl strings.Builder
	var iUp, iLat, iErr, iErrs, iInfl strings.Builder
	for _, h := range hs {
		if h.Removed {
			continue
		}
		// Written from the engine's list at each scrape, so an instance
		// that left the pool has no series: nothing is kept for it.
		for _, in := range h.Instances {
			l := `{handler=` + label(h.ID) + `,instance=` + label(in.ID) + `} `
			fmt.Fprintf(&iUp, "schedulezero_instance_up{handler=%s,instance=%s,host=%s} %d\n", label(h.ID), label(in.ID), label(in.Host), b2i(in.Up))
			fmt.Fprintf(&iInfl, "schedulezero_instance_in_flight%s%d\n", l, in.InFlight)
			fmt.Fprintf(&iLat, "schedulezero_instance_latency_seconds%s%g\n", l, in.LatencyMS/1000)
			fmt.Fprintf(&iErr, "schedulezero_instance_error_ratio%s%g\n", l, in.ErrorRate)
			fmt.Fprintf(&iErrs, "schedulezero_instance_errors_total%s%d\n", l, in.Errors)
		}
		l := `{handler=` + label(h.ID) + `} `
		v := 0
		if h.Online {
			v = 1
		}
		fmt.Fprintf(&up, "schedulezero_handler_up%s%d\n", l, v)
		fmt.Fprintf(&lat, "schedulezero_handler_latency_seconds%s%g\n", l, h.LatencyMS/1000)
		fmt.Fprintf(&errs, "schedulezero_handler_error_ratio%s%g\n", l, h.ErrorRate)
		fmt.Fprintf(&infl, "schedulezero_handler_in_flight%s%d\n", l, h.InFlight)
	}
	io.WriteString(w, up.String()+lat.String()+errs.String()+infl.String())
	io.WriteString(w, iUp.String()+iInfl.String()+iLat.String()+iErr.String()+iErrs.String())
}

// MissReason maps the engine's reason for a missed occurrence to one of
// the Miss* values, so that the label's values stay few.
func MissReason(reason string) string {
	switch {
	case strings.Contains(reason, "was removed"):
		return MissHandlerRemoved
	case strings.Contains(reason, "was paused"):
		return MissPaused
	case strings.Contains(reason, "scheduler was not running"):
		return MissOutage
	case strings.Contains(reason, "fired late"):
		return MissLate
	case strings.Contains(reason, "previous run"), strings.Contains(reason, "queue was full"), strings.Contains(reason, "overlap"):
		return MissOverlap
	case strings.Contains(reason, "offline"), strings.Contains(reason, "no handler"):
		return MissHandlerOffline
	default:
		return MissOther
	}
}

// missedCount is how many occurrences one missed record stands for: the
// engine sums up a long run of them in one record ("N more occurrences …",
// "N occurrences from …").
func missedCount(reason string) int {
	num, rest, ok := strings.Cut(reason, " ")
	if !ok || !(strings.HasPrefix(rest, "more occurrences") || strings.HasPrefix(rest, "occurrences from")) {
		return 1
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return 1
	}
	return n
}
