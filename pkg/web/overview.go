package web

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

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
}

const timelineMax = 300 // fires drawn on the timeline

func (s *server) overview(_ http.ResponseWriter, r *http.Request) (string, any, error) {
	ctx := r.Context()
	all, truncated, err := s.listSchedules(ctx)
	if err != nil {
		return "", nil, err
	}
	hs, err := s.b.Handlers(ctx)
	if err != nil {
		return "", nil, err
	}
	recent, err := s.b.Executions(ctx, store.ExecutionFilter{Limit: recentScan})
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	v := overviewView{Truncated: truncated}
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
	for _, e := range recent {
		at := cmp.Or(e.StartedAt, e.ScheduledAt, e.CompletedAt)
		for _, w := range []*window{&hour, &day} {
			span := time.Hour
			if w == &day {
				span = 24 * time.Hour
			}
			if now.Sub(at) > span {
				continue
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
		if (e.Status == store.StatusFailed || e.Status == store.StatusTimedOut) && len(v.Failures) < 10 {
			v.Failures = append(v.Failures, e)
		}
	}
	v.Windows = []window{hour, day}
	last := lastResults(recent)
	end := now.Add(24 * time.Hour)
	for _, sc := range all {
		switch stateOf(sc) {
		case "done":
			v.Done++
			continue
		case "paused":
			v.Paused++
			continue
		}
		v.Active++
		if !sc.NextFire.IsZero() {
			v.Next = append(v.Next, s.row(sc, last, states))
		}
		for _, t := range s.nextFires(sc, 48) {
			if t.After(end) || len(v.Timeline) >= timelineMax {
				break
			}
			v.Timeline = append(v.Timeline, timelineMark{X: int(1000 * t.Sub(now) / (24 * time.Hour)), Href: "/schedules/" + url.PathEscape(sc.ID),
				Title: fmt.Sprintf("%s at %s", sc.ID, s.when(t))})
		}
	}
	for h := 0; h <= 24; h += 3 {
		t := now.Add(time.Duration(h) * time.Hour)
		v.Hours = append(v.Hours, timelineMark{X: h * 1000 / 24, Title: t.In(s.loc).Format("15:04")})
	}
	slices.SortFunc(v.Next, func(a, b scheduleRow) int { return a.NextFire.Compare(b.NextFire) })
	v.Next = v.Next[:min(len(v.Next), 10)]
	return "overview", v, nil
}
