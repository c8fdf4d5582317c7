package web

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// window counts attempts in one period back from now.
type window struct {
	Label                string
	Runs, Failed, Missed int
}

// timelineMark is one fire on the overview's 24-hour timeline (an SVG of
// 1000 units wide: the page's policy allows no inline styles).
type timelineMark struct {
	X     int
	Title string
	Href  string
	More  int // further fires at the same X, drawn as this one
}

type overviewView struct {
	Active, Paused, Done int
	Online, Offline      int
	Windows              []window
	Timeline             []timelineMark
	Hours                []timelineMark // hour ticks
	Failures             []store.Execution
	Next                 []scheduleRow
	Truncated            bool
	Scanned              int    // attempts the counts are of
	Inactive             string // what Paused counts: "paused" unless said
}

// upcomer is what an engine may offer the schedules list: how many
// schedules it holds and how many wait for a fire, and the next n to
// fire, from its memory (scheduler.Scheduler.Upcoming), so that the page
// costs the rows it shows and not the schedules there are.
type upcomer interface {
	Upcoming(ctx context.Context, n int) (total, waiting int, next []store.Schedule, err error)
}

// fireLister is what an engine may offer the overview: the same counts
// and the next n fires without their schedules' records
// (scheduler.Scheduler.UpcomingFires). Without it the overview reads the
// schedules a page at a time.
type fireLister interface {
	UpcomingFires(ctx context.Context, n int) (total, waiting int, next []schedtype.Fire, err error)
}

const timelineMax = 500 // fires drawn on the timeline

func (s *server) overview(_ http.ResponseWriter, r *http.Request) (string, any, error) {
	ctx := r.Context()
	hs, err := s.b.Handlers(ctx)
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	v := overviewView{}
	states := make(map[string]string, len(hs))
	for _, h := range hs {
		states[h.ID] = h.Status
		switch h.Status {
		case "online":
			v.Online++
		case "removed":
		default:
			v.Offline++
		}
	}
	hour, day := window{Label: "last hour"}, window{Label: "last 24 hours"}
	last := latest{}
	count := func(w *window, span time.Duration, e store.Execution) {
		if now.Sub(cmp.Or(e.StartedAt, e.ScheduledAt, e.CompletedAt)) > span {
			return
		}
		switch {
		case e.Status == store.StatusMissed:
			w.Missed++
		case e.Status.Finished() && e.Status != store.StatusSucceeded:
			w.Failed++
			w.Runs++
		case e.Status.Finished():
			w.Runs++
		}
	}
	v.Scanned, err = s.recentAttempts(ctx, store.ExecutionFilter{}, overviewScan, func(e store.Execution) bool {
		last.add(e)
		count(&hour, time.Hour, e)
		count(&day, 24*time.Hour, e)
		if (e.Status == store.StatusFailed || e.Status == store.StatusTimedOut) && len(v.Failures) < 10 {
			v.Failures = append(v.Failures, e)
		}
		return true
	})
	if err != nil {
		return "", nil, err
	}
	v.Windows = []window{hour, day}
	end := now.Add(24 * time.Hour)
	type fire struct {
		id   string
		next time.Time
	}
	var upcoming []fire
	byNext := func(a, b fire) int { return a.next.Compare(b.next) }
	if u, ok := s.b.(fireLister); ok {
		// The engine's counts and next fires, from its memory.
		total, waiting, next, err := u.UpcomingFires(ctx, timelineMax)
		if err != nil {
			return "", nil, err
		}
		v.Active, v.Paused, v.Inactive = waiting, total-waiting, "paused or finished"
		upcoming = make([]fire, 0, len(next))
		for _, f := range next {
			upcoming = append(upcoming, fire{f.ScheduleID, f.At})
		}
	} else if v.Truncated, err = s.eachSchedule(ctx, func(sc store.Schedule) {
		// Only the first timelineMax are kept, sorted as they come, so
		// that the page holds few schedules at once.
		switch stateOf(sc) {
		case "done":
			v.Done++
			return
		case "paused":
			v.Paused++
			return
		}
		v.Active++
		if sc.NextFire.IsZero() {
			return
		}
		if upcoming = append(upcoming, fire{sc.ID, sc.NextFire}); len(upcoming) >= 2*timelineMax {
			slices.SortFunc(upcoming, byNext)
			upcoming = upcoming[:timelineMax]
		}
	}); err != nil {
		return "", nil, err
	}
	// The timeline marks each schedule's next fire, with no trigger
	// arithmetic however many schedules there are. Fires at the same X
	// (one of 1000 units, 86 s) share one mark, which says how many more
	// it stands for: the same drawing, with a mark per unit at most.
	slices.SortFunc(upcoming, byNext)
	for i, f := range upcoming {
		if i < 10 {
			if sc, err := s.b.GetSchedule(ctx, f.id); err == nil { // one deleted meanwhile is left out
				v.Next = append(v.Next, s.row(sc, last, states))
			}
		}
		if f.next.After(end) {
			continue
		}
		x := int(1000 * f.next.Sub(now) / (24 * time.Hour))
		if n := len(v.Timeline); n > 0 && v.Timeline[n-1].X == x {
			v.Timeline[n-1].More++
			continue
		}
		v.Timeline = append(v.Timeline, timelineMark{X: x, Href: "/schedules/" + url.PathEscape(f.id),
			Title: f.id + " at " + s.when(f.next)})
	}
	for h := 0; h <= 24; h += 3 {
		t := now.Add(time.Duration(h) * time.Hour)
		v.Hours = append(v.Hours, timelineMark{X: h * 1000 / 24, Title: t.In(s.loc).Format("15:04")})
	}
	return "overview", v, nil
}
