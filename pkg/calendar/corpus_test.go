package calendar

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "regenerate testdata/golden.txt with systemd-analyze")

const (
	corpusFile = "testdata/corpus.txt"
	goldenFile = "testdata/golden.txt"
	iterations = 5
	batchSize  = 60
)

// corpusEntry is one expression of the corpus with the zone and base time
// it is evaluated at.
type corpusEntry struct {
	tz      string
	base    int64
	expr    string
	invalid bool
}

// expectation is what systemd-analyze reports for an entry: the normalized
// form and the next elapses in whole seconds, or failure to parse.
type expectation struct {
	ok         bool
	deadlock   bool // systemd gave up ("Infinite loop in calendar calculation")
	normalized string
	elapses    []int64
}

func readCorpus(t *testing.T) []corpusEntry {
	t.Helper()
	f, err := os.Open(corpusFile)
	if err != nil {
		t.Fatalf("open corpus: %v", err)
	}
	defer f.Close()
	var out []corpusEntry
	tz, base, invalid := "UTC", int64(1790000000), false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "@tz "):
			tz = strings.TrimPrefix(line, "@tz ")
		case strings.HasPrefix(line, "@base "):
			base, err = strconv.ParseInt(strings.TrimPrefix(line, "@base "), 10, 64)
			if err != nil {
				t.Fatalf("corpus: %q: %v", line, err)
			}
		case line == "@invalid":
			invalid = true
		case line == "@valid":
			invalid = false
		default:
			out = append(out, corpusEntry{tz: tz, base: base, expr: line, invalid: invalid})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read corpus: %v", err)
	}
	return out
}

func (c corpusEntry) key() string { return fmt.Sprintf("%s\t%d\t%s", c.tz, c.base, c.expr) }

// runSystemdAnalyze asks systemd-analyze about entries, batching those
// that share a zone and base time into one invocation.
func runSystemdAnalyze(t *testing.T, entries []corpusEntry) map[string]expectation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := make(map[string]expectation)
	for i := 0; i < len(entries); {
		j := i + 1
		for j < len(entries) && j-i < batchSize && entries[j].tz == entries[i].tz && entries[j].base == entries[i].base {
			j++
		}
		batch := entries[i:j]
		args := []string{"calendar", "--no-pager", fmt.Sprintf("--base-time=@%d", batch[0].base), fmt.Sprintf("--iterations=%d", iterations)}
		for _, e := range batch {
			args = append(args, e.expr)
		}
		cmd := exec.CommandContext(ctx, "systemd-analyze", args...)
		cmd.Env = append(os.Environ(), "TZ="+batch[0].tz, "SYSTEMD_COLORS=0", "LC_ALL=C")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("systemd-analyze: %v", err)
		}
		failed := make(map[string]expectation)
		for _, l := range strings.Split(stderr.String(), "\n") {
			for p, x := range map[string]expectation{
				"Failed to parse calendar specification '": {},
				"Failed to determine next elapse for '":    {ok: true, deadlock: true},
			} {
				if k := strings.Index(l, p); k >= 0 {
					rest := l[k+len(p):]
					if m := strings.LastIndex(rest, "': "); m >= 0 {
						failed[rest[:m]] = x
					}
				}
			}
		}
		blocks := parseBlocks(t, stdout.String())
		b := 0
		for _, e := range batch {
			if x, ok := failed[e.expr]; ok {
				// systemd-analyze prints no block for these.
				out[e.key()] = x
				continue
			}
			if b >= len(blocks) || blocks[b].original != e.expr {
				t.Fatalf("systemd-analyze output out of step at %q (stderr %q)", e.expr, stderr.String())
			}
			out[e.key()] = blocks[b].expectation
			b++
		}
		i = j
	}
	return out
}

type block struct {
	original string
	expectation
}

func parseBlocks(t *testing.T, s string) []block {
	t.Helper()
	var bs []block
	for _, raw := range strings.Split(s, "\n") {
		l := strings.TrimSpace(raw)
		k := strings.Index(l, ": ")
		if k < 0 {
			continue
		}
		label, val := l[:k], l[k+2:]
		switch {
		case label == "Original form":
			bs = append(bs, block{original: val, expectation: expectation{ok: true}})
		case label == "Normalized form" && (len(bs) == 0 || bs[len(bs)-1].normalized != ""):
			// systemd-analyze omits the original form when it equals
			// the normalized one.
			bs = append(bs, block{original: val, expectation: expectation{ok: true, normalized: val}})
		case len(bs) == 0:
		case label == "Normalized form":
			bs[len(bs)-1].normalized = val
		case label == "Next elapse" && val == "never":
		case label == "Next elapse" || strings.HasPrefix(label, "Iter. #"):
			bs[len(bs)-1].elapses = append(bs[len(bs)-1].elapses, parseStamp(t, val))
		case label == "(in UTC)":
			el := bs[len(bs)-1].elapses
			el[len(el)-1] = parseStamp(t, val)
		}
	}
	return bs
}

func parseStamp(t *testing.T, v string) int64 {
	t.Helper()
	if !strings.HasSuffix(v, " UTC") {
		// Local zone line: replaced by the "(in UTC)" line that follows.
		return 0
	}
	ts, err := time.Parse("Mon 2006-01-02 15:04:05 MST", v)
	if err != nil {
		t.Fatalf("parse systemd timestamp %q: %v", v, err)
	}
	return ts.Unix()
}

func formatGolden(entries []corpusEntry, exp map[string]expectation) string {
	var b strings.Builder
	b.WriteString("# zone\tbase\texpression\tnormalized form or !error\tnext elapses (unix seconds)\n")
	for _, e := range entries {
		x := exp[e.key()]
		norm := "!error"
		switch {
		case x.deadlock:
			norm = "!deadlock"
		case x.ok:
			norm = x.normalized
		}
		var el []string
		for _, s := range x.elapses {
			el = append(el, strconv.FormatInt(s, 10))
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\n", e.key(), norm, strings.Join(el, ","))
	}
	return b.String()
}

func readGolden(t *testing.T) map[string]expectation {
	t.Helper()
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("read golden: %v", err)
	}
	out := make(map[string]expectation)
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			t.Fatalf("golden line %q: want 5 fields", l)
		}
		x := expectation{ok: f[3] != "!error", deadlock: f[3] == "!deadlock", normalized: f[3]}
		if !x.ok || x.deadlock {
			x.normalized = ""
		}
		for _, s := range strings.Split(f[4], ",") {
			if s == "" {
				continue
			}
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("golden line %q: %v", l, err)
			}
			x.elapses = append(x.elapses, v)
		}
		out[strings.Join(f[:3], "\t")] = x
	}
	return out
}

// ours computes what this package reports for an entry.
func ours(e corpusEntry) (expectation, error) {
	loc, err := time.LoadLocation(e.tz)
	if err != nil {
		return expectation{}, err
	}
	ev, err := Parse(e.expr, loc)
	if err != nil {
		return expectation{}, nil //nolint:nilerr // a parse failure is an expected outcome
	}
	x := expectation{ok: true, normalized: ev.String()}
	at := time.Unix(e.base, 0)
	for range iterations {
		n, ok := ev.Next(at)
		if !ok {
			break
		}
		x.elapses = append(x.elapses, n.Unix())
		at = n
	}
	return x, nil
}

func TestCorpusAgainstSystemdAnalyze(t *testing.T) {
	entries := readCorpus(t)
	seen := make(map[string]bool)
	valid := 0
	for _, e := range entries {
		if seen[e.key()] {
			t.Errorf("corpus entry %q appears twice", e.key())
		}
		seen[e.key()] = true
		if !e.invalid {
			valid++
		}
	}
	if len(entries) < 200 {
		t.Errorf("corpus has %d entries, want at least 200", len(entries))
	}

	var want map[string]expectation
	source := "systemd-analyze"
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if *update {
			t.Fatalf("-update needs systemd-analyze: %v", err)
		}
		t.Logf("systemd-analyze not on PATH (%v): checking %s instead", err, goldenFile)
		want, source = readGolden(t), goldenFile
	} else {
		want = runSystemdAnalyze(t, entries)
		if *update {
			if err := os.WriteFile(goldenFile, []byte(formatGolden(entries, want)), 0o644); err != nil {
				t.Fatalf("write golden: %v", err)
			}
		}
	}

	agree := 0
	for _, e := range entries {
		w, ok := want[e.key()]
		if !ok {
			t.Errorf("%s: no expectation for %q in zone %s (regenerate with -update)", source, e.expr, e.tz)
			continue
		}
		if e.invalid == w.ok {
			t.Errorf("corpus lists %q (zone %s) as invalid=%v but %s parsed=%v", e.expr, e.tz, e.invalid, source, w.ok)
		}
		got, err := ours(e)
		if err != nil {
			t.Fatalf("%q: %v", e.expr, err)
		}
		if diff := compare(got, w); diff != "" {
			t.Errorf("zone %s base %d expr %q: %s", e.tz, e.base, e.expr, diff)
			continue
		}
		agree++
	}
	t.Logf("compared %d expressions with %s: %d agree (%d valid, %d invalid)", len(entries), source, agree, valid, len(entries)-valid)
}

func compare(got, want expectation) string {
	if got.ok != want.ok {
		return fmt.Sprintf("parsed=%v, want parsed=%v (want normalized %q)", got.ok, want.ok, want.normalized)
	}
	if want.deadlock {
		// systemd-analyze reports only that one of the first elapses
		// could not be computed.
		if got.ok && len(got.elapses) < iterations {
			return ""
		}
		return fmt.Sprintf("elapses %s, want the search to give up", stamps(got.elapses))
	}
	if got.normalized != want.normalized {
		return fmt.Sprintf("normalized %q, want %q", got.normalized, want.normalized)
	}
	if fmt.Sprint(got.elapses) != fmt.Sprint(want.elapses) {
		return fmt.Sprintf("elapses %s, want %s", stamps(got.elapses), stamps(want.elapses))
	}
	return ""
}

func stamps(v []int64) string {
	var s []string
	for _, x := range v {
		s = append(s, time.Unix(x, 0).UTC().Format("2006-01-02T15:04:05Z"))
	}
	return "[" + strings.Join(s, " ") + "]"
}
