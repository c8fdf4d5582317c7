// Command abtable reads the tables of alternating bench runs of two builds
// (test/bench/ab.sh writes them as DIR/a.N and DIR/b.N) and prints, for
// each metric, the median and range of each build and the ratio of the
// medians: a comparison made on one machine in one sitting, where only the
// ratio means something.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: abtable DIR (with DIR/a.1, DIR/b.1, ... from test/bench/ab.sh)")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "abtable:", err)
		os.Exit(1)
	}
}

// runs are one build's tables: metric → its value in each run.
type runs struct {
	order  []string
	values map[string][]float64
	units  map[string]string
}

func run(dir string) error {
	a, err := readRuns(filepath.Join(dir, "a.*"))
	if err != nil {
		return err
	}
	b, err := readRuns(filepath.Join(dir, "b.*"))
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "metric\tA median [range]\tB median [range]\tB/A")
	for _, m := range a.order {
		av, bv := a.values[m], b.values[m]
		if len(bv) == 0 {
			continue
		}
		u := a.units[m]
		ratio := "n/a"
		if am := median(av); am != 0 {
			ratio = fmt.Sprintf("%.2f", median(bv)/am)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m, summary(av, u), summary(bv, u), ratio)
	}
	return w.Flush()
}

func readRuns(glob string) (runs, error) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		return runs{}, fmt.Errorf("no tables match %s", glob)
	}
	r := runs{values: map[string][]float64{}, units: map[string]string{}}
	for _, f := range files {
		if err := r.read(f); err != nil {
			return runs{}, fmt.Errorf("%s: %w", f, err)
		}
	}
	return r, nil
}

// sampled is a count in a metric's name ("(10001 fires sampled)"), which
// varies from run to run and is not part of what the row measures.
var sampled = regexp.MustCompile(` \(\d+ fires[^)]*\)`)

// column splits a bench table's line into metric and value: the
// tabwriter pads with two or more spaces.
var column = regexp.MustCompile(`\s{2,}`)

func (r *runs) read(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	table := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "metric ") {
			table = true
			continue
		}
		if !table || strings.TrimSpace(line) == "" {
			continue
		}
		lead := len(line) - len(strings.TrimLeft(line, " "))
		cols := column.Split(strings.TrimSpace(line), -1)
		if len(cols) < 2 {
			continue
		}
		metric := strings.Repeat(" ", lead) + sampled.ReplaceAllString(cols[0], "")
		v, unit, ok := number(cols[1])
		if !ok {
			continue
		}
		if _, seen := r.values[metric]; !seen {
			r.order = append(r.order, metric)
		}
		r.values[metric] = append(r.values[metric], v)
		r.units[metric] = unit
	}
	return sc.Err()
}

// number reads a value of the bench's table: a Go duration (as ms), a
// size "12.3 MB (anon ...)" (as MB, the total), a CPU time per execution
// "12.3 µs" (as µs) or a plain number.
func number(s string) (float64, string, bool) {
	first := strings.Fields(s)[0]
	if d, err := time.ParseDuration(first); err == nil {
		return float64(d) / float64(time.Millisecond), "ms", true
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(first, ",", ""), 64)
	if err != nil {
		return 0, "", false
	}
	if f := strings.Fields(s); len(f) > 1 && (f[1] == "MB" || f[1] == "µs") {
		return v, f[1], true // a size, or a CPU time per execution
	}
	return v, "", true
}

func summary(vs []float64, unit string) string {
	s := slices.Clone(vs)
	slices.Sort(s)
	f := func(v float64) string {
		switch {
		case v >= 1000:
			return strconv.FormatFloat(v, 'f', 0, 64)
		case v >= 10:
			return strconv.FormatFloat(v, 'f', 1, 64)
		default:
			return strconv.FormatFloat(v, 'f', 3, 64)
		}
	}
	out := f(median(s))
	if unit != "" {
		out += " " + unit
	}
	return fmt.Sprintf("%s [%s–%s]", out, f(s[0]), f(s[len(s)-1]))
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
