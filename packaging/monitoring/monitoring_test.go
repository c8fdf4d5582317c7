// Package monitoring holds the Prometheus alerting rules and the Grafana
// dashboard shipped in the package's docs; its tests check them against
// promtool and docs/metrics.md.
package monitoring

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// promtool runs promtool with args, or skips when it is not installed.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus): the rules are not checked")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// The rules are valid, and each alert fires on the series that should
// raise it and not before (rules_test.yml).
func TestRules_Promtool(t *testing.T) {
	promtool(t, "check", "rules", "prometheus-rules.yml")
	promtool(t, "test", "rules", "rules_test.yml")
}

var seriesName = regexp.MustCompile(`schedulezero_[a-z_]+`)

// documented is the set of series docs/metrics.md lists.
func documented(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(schedulezero_[a-z_]+)` \\|").FindAllSubmatch(b, -1) {
		out[string(m[1])] = true
	}
	if len(out) < 20 {
		t.Fatalf("docs/metrics.md lists %d series; the table's format changed?", len(out))
	}
	return out
}

// checkNames fails for every series name in text that docs/metrics.md
// does not list (a histogram's _bucket, _sum and _count are its own).
func checkNames(t *testing.T, what string, text string, docs map[string]bool) {
	t.Helper()
	for _, n := range seriesName.FindAllString(text, -1) {
		base := n
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suf); ok && docs[b] {
				base = b
			}
		}
		if !docs[base] {
			t.Errorf("%s uses %s, which docs/metrics.md does not list", what, n)
		}
	}
}

// The dashboard is Grafana JSON whose every query and the rules' every
// expression use documented series only.
func TestDashboardAndRules_UseDocumentedSeries(t *testing.T) {
	docs := documented(t)
	rules, err := os.ReadFile("prometheus-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	checkNames(t, "prometheus-rules.yml", string(rules), docs)

	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Errorf("dashboard without title or uid: %q %q", dash.Title, dash.UID)
	}
	queries := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			checkNames(t, "panel "+p.Title, q.Expr, docs)
		}
	}
	if queries < 15 {
		t.Errorf("the dashboard has %d queries; want one per documented area", queries)
	}
}
