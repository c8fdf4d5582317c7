package metric

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// pools is a Source whose handlers a test sets.
type pools struct{ hs []Handler }

func (p *pools) Schedules(time.Time) Schedules               { return Schedules{} }
func (p *pools) Handlers(context.Context) ([]Handler, error) { return p.hs, nil }

func expose(t *testing.T, m *Scheduler) string {
	t.Helper()
	var b strings.Builder
	if err := m.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Each instance of a pool has its series, labelled by handler and
// instance; an instance that leaves the engine's list (pruned, replaced)
// has none at the next scrape: nothing is kept for it.
func TestScheduler_InstanceSeries_GoWithTheInstance(t *testing.T) {
	src := &pools{hs: []Handler{{ID: "pool", Online: true, Instances: []Instance{
		{ID: "a", Host: "web-1", Up: true, InFlight: 2, LatencyMS: 250, ErrorRate: 0.1, Errors: 3},
		{ID: "b", Host: "web-2", InFlight: 0},
	}}}}
	m := NewScheduler()
	m.Handler(src, "")
	out := expose(t, m)
	for _, want := range []string{
		"# TYPE schedulezero_instance_errors_total counter",
		`schedulezero_instance_up{handler="pool",instance="a",host="web-1"} 1`,
		`schedulezero_instance_up{handler="pool",instance="b",host="web-2"} 0`,
		`schedulezero_instance_in_flight{handler="pool",instance="a"} 2`,
		`schedulezero_instance_latency_seconds{handler="pool",instance="a"} 0.25`,
		`schedulezero_instance_error_ratio{handler="pool",instance="a"} 0.1`,
		`schedulezero_instance_errors_total{handler="pool",instance="a"} 3`,
		`schedulezero_instance_errors_total{handler="pool",instance="b"} 0`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
	lint(t, out)
	src.hs[0].Instances = src.hs[0].Instances[:1] // b left the pool
	if out := expose(t, m); strings.Contains(out, `instance="b"`) || !strings.Contains(out, `instance="a"`) {
		t.Errorf("after b left, the exposition still has its series (or lost a's):\n%s", out)
	}
	src.hs[0].Removed = true // the handler was removed: none of its instances stays
	if out := expose(t, m); strings.Contains(out, `schedulezero_instance_`) {
		t.Errorf("a removed handler's instances still have series:\n%s", out)
	}
}

// lint runs promtool check metrics on text when promtool is installed
// (Debian package prometheus).
func lint(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed: the exposition's lint is not checked")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
}
