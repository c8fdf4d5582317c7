package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// The firing rows of the scale phase: fire lateness with 100,000 schedules
// firing 1,000 a second, and with 10,000 firing 1,000 a second while the
// scheduler prunes a backlog of expired history. Their stores are written
// directly with the store package just before each run (their first fires
// are relative to it, so they cannot be cached), and a scheduler and one
// handler then run on them as in the lateness phase.

// firingLoad is a store of n schedules every `every`, first fires spread
// evenly over one interval from lead after the store is written, and
// expired history records that completed before the default retention age.
type firingLoad struct {
	schedules int
	every     time.Duration
	lead      time.Duration
	expired   int
}

// buildFiringStore writes l to a new store at path and returns the first
// fire of its first schedule. The history goes first, so that the time it
// takes is not taken from the lead.
func buildFiringStore(path string, l firingLoad) (time.Time, error) {
	db, err := store.Open(path, store.Options{NoSync: true, MaxBatch: 1 << 20})
	if err != nil {
		return time.Time{}, err
	}
	ctx := context.Background()
	now := time.Now().UTC()
	const batch = 50000
	if err := writeExpired(ctx, db, now, l); err != nil {
		_ = db.Close()
		return time.Time{}, err
	}
	start := time.Now().Add(l.lead)
	for lo := 0; lo < l.schedules; lo += batch {
		var w store.Writes
		for i := lo; i < min(lo+batch, l.schedules); i++ {
			first := start.Add(time.Duration(int64(i) * int64(l.every) / int64(l.schedules))).UTC()
			trig := json.RawMessage(`{"type":"interval","seconds":` + strconv.FormatFloat(l.every.Seconds(), 'f', -1, 64) +
				`,"start_time":"` + first.Format(time.RFC3339Nano) + `"}`)
			w.Schedules = append(w.Schedules, store.Schedule{
				ID: scaleID(i), HandlerID: "bench", Method: "quick_aling", Trigger: trig, MaxAttempts: 1,
				NextFire: first, CreatedAt: now, UpdatedAt: now,
			})
		}
		if err := db.Commit(ctx, w); err != nil {
			_ = db.Close()
			return time.Time{}, err
		}
	}
	return start, db.Close()
}

// writeExpired writes l.expired records in batches.
func writeExpired(ctx context.Context, db *store.DB, now time.Time, l firingLoad) error {
	const batch = 50000
	// Expired: completed 60 days ago (the default retention age is 30),
	// IDs sorting before every ID the scheduler makes, so they are the
	// prefix the pruner walks.
	old := now.Add(-60 * 24 * time.Hour)
	for lo := 0; lo < l.expired; lo += batch {
		var w store.Writes
		for i := lo; i < min(lo+batch, l.expired); i++ {
			at := old.Add(time.Duration(i) * time.Millisecond)
			w.Executions = append(w.Executions, store.Execution{
				ID: fmt.Sprintf("%026d", i), Attempt: 1, MaxAttempts: 1,
				ScheduleID: scaleID(i % max(l.schedules, 1)), HandlerID: "bench", Method: "quick_aling",
				Status: store.StatusSucceeded, ScheduledAt: at, StartedAt: at, CompletedAt: at.Add(time.Millisecond),
				DurationMS: 1, Result: json.RawMessage(`{"success":true}`),
			})
		}
		if err := db.Commit(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// startedLate reads, from the stopped deployment's file, how long after
// its due time each attempt due in [from, to) started, keyed by the time
// it was due.
func (d *deployment) startedLate(from, to time.Time) (map[time.Time]time.Duration, error) {
	db, err := store.Open(filepath.Join(d.dir, "sz.db"), store.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	recs, err := db.ListExecutions(context.Background(), store.ExecutionFilter{Status: store.StatusSucceeded})
	if err != nil {
		return nil, err
	}
	late := map[time.Time]time.Duration{}
	for _, r := range recs {
		if !r.ScheduledAt.Before(from) && r.ScheduledAt.Before(to) {
			late[r.ScheduledAt] = r.StartedAt.Sub(r.ScheduledAt)
		}
	}
	return late, nil
}

// quantiles sorts ls and returns its p50, p99 and max, rounded.
func quantiles(ls []time.Duration) (p50, p99, most string) {
	if len(ls) == 0 {
		return "n/a", "n/a", "n/a"
	}
	slices.Sort(ls)
	q := func(p float64) string { return ls[int(p*float64(len(ls)-1))].Round(time.Microsecond).String() }
	return q(0.50), q(0.99), q(1)
}

// lateness100k runs 100,000 schedules every 100 s (1,000 fires/s) and
// measures the lateness of the fires of two windows: one in the first
// round, where every fire is a schedule's first since the start (whose
// trigger the engine compiles then), and one in the second round.
func lateness100k(bin string, window time.Duration) ([]row, error) {
	const n, every = 100000, 100 * time.Second
	var start time.Time
	d, err := deployWith(bin, "bench", 256, topology{prepare: func(path string) (err error) {
		start, err = buildFiringStore(path, firingLoad{schedules: n, every: every, lead: 15 * time.Second})
		return err
	}})
	if err != nil {
		return nil, err
	}
	defer d.close()
	if wait := time.Until(start); wait < 5*time.Second {
		return nil, fmt.Errorf("the scheduler took too long to start: first fires %v ago", -wait)
	}
	type span struct{ from, to time.Time }
	var spans [2]span
	var mem peaks
	for i, at := range []time.Time{start.Add(5 * time.Second), start.Add(every + 5*time.Second)} {
		time.Sleep(time.Until(at)) // the window's start: a measurement window, not a wait for a condition
		spans[i].from = time.Now()
		m := d.watchMemory(window)
		spans[i].to = time.Now()
		if m.scheduler.rss > mem.scheduler.rss {
			mem = m
		}
	}
	d.stop()
	var rows []row
	for i, sp := range spans {
		late, err := d.startedLate(sp.from, sp.to)
		if err != nil {
			return nil, err
		}
		ls := make([]time.Duration, 0, len(late))
		for _, l := range late {
			ls = append(ls, l)
		}
		p50, p99, most := quantiles(ls)
		round := "first round after start (each fire compiles its trigger)"
		if i == 1 {
			round = "second round"
		}
		rows = append(rows,
			row{fmt.Sprintf("100000 schedules firing 1,000/s, %s: fire lateness p50 (%d fires sampled)", round, len(ls)), p50, ""},
			row{"  fire lateness p99", p99, "≤ 2 ms"},
			row{"  fire lateness max", most, ""})
	}
	return append(rows, row{"  scheduler peak RSS, both windows", mem.scheduler.String(), ""}), nil
}

// latenessPrune runs 10,000 schedules every 10 s (1,000 fires/s) on a
// store that also holds `expired` records past the retention age, so the
// scheduler's first prune (one PruneInterval after start) removes them
// while it fires; the API's stats, read twice a second, say when it began
// and ended. It compares the lateness of the fires due during the prune
// with that of those due before it.
func latenessPrune(bin string, expired int) ([]row, error) {
	const n, every = 10000, 10 * time.Second
	var start time.Time
	t0 := time.Now()
	d, err := deployWith(bin, "bench", 256, topology{prepare: func(path string) (err error) {
		start, err = buildFiringStore(path, firingLoad{schedules: n, every: every, lead: 10 * time.Second, expired: expired})
		return err
	}})
	if err != nil {
		return nil, err
	}
	defer d.close()
	fmt.Fprintf(os.Stderr, "bench: prune store of %d expired records built and loaded in %v\n", expired, time.Since(t0).Round(time.Second))
	records := func() (int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := d.c.Stats(ctx)
		if err != nil {
			return 0, err
		}
		var sum int64
		for _, c := range st.ByStatus {
			sum += c
		}
		return sum, nil
	}
	// The prune has begun when the count falls, and ended when it is
	// below the backlog's last thousandth: what is left is the fires'.
	var began, ended time.Time
	limit := time.Now().Add(store.DefaultPruneInterval + 3*time.Minute)
	for ended.IsZero() {
		if time.Now().After(limit) {
			return nil, fmt.Errorf("the prune of %d records did not end within %v of start", expired, store.DefaultPruneInterval+3*time.Minute)
		}
		time.Sleep(500 * time.Millisecond) // sampling: the count is the condition, read at a bounded rate
		c, err := records()
		if err != nil {
			return nil, err
		}
		if began.IsZero() && c < int64(expired) {
			began = time.Now().Add(-500 * time.Millisecond)
		}
		if !began.IsZero() && c < int64(n)*int64(time.Since(start)/every+2) {
			ended = time.Now()
		}
	}
	d.stop()
	late, err := d.startedLate(start.Add(every), ended)
	if err != nil {
		return nil, err
	}
	var before, during []time.Duration
	logRounds(late, start, every, began, ended)
	for at, l := range late {
		if at.Before(began) {
			before = append(before, l)
		} else {
			during = append(during, l)
		}
	}
	_, bp99, bmax := quantiles(before)
	_, dp99, dmax := quantiles(during)
	took := ended.Sub(began).Round(100 * time.Millisecond)
	return []row{
		{fmt.Sprintf("prune of %d expired records under 1,000 fires/s: duration", expired), took.String(),
			fmt.Sprintf("%.0f records/s", float64(expired)/took.Seconds())},
		{fmt.Sprintf("  fire lateness p99 during the prune (%d fires)", len(during)), dp99, "≤ 2 ms"},
		{"  fire lateness max during the prune", dmax, "≤ a group commit"},
		{fmt.Sprintf("  fire lateness p99 before it (%d fires)", len(before)), bp99, ""},
		{"  fire lateness max before it", bmax, ""},
	}, nil
}

// logRounds prints to stderr the p99 lateness of each round of fires, and
// where the prune was, to show when a fire was late.
func logRounds(late map[time.Time]time.Duration, start time.Time, every time.Duration, began, ended time.Time) {
	byRound := map[int][]time.Duration{}
	for at, l := range late {
		r := int(at.Sub(start) / every)
		byRound[r] = append(byRound[r], l)
	}
	for r := range len(byRound) + 1 {
		ls, ok := byRound[r]
		if !ok {
			continue
		}
		_, p99, most := quantiles(ls)
		from := start.Add(time.Duration(r) * every)
		fmt.Fprintf(os.Stderr, "bench: prune run, round %d (%s–%s, prune %s–%s): %d fires, p99 %s, max %s\n", r,
			from.Format("15:04:05"), from.Add(every).Format("15:04:05"), began.Format("15:04:05.0"), ended.Format("15:04:05.0"), len(ls), p99, most)
	}
}
