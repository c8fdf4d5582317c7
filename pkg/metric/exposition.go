// Package metric is the daemons' Prometheus exposition: the scheduler's
// counters, fed by an event observer and the store's commit hook, and the
// governor's handler states, read at scrape time.
//
// The series are kept in a github.com/VictoriaMetrics/metrics Set: of the
// two well-kept libraries it costs the daemon least (see docs/metrics.md).
// That library writes no HELP text, which promtool requires, so the
// exposition adds HELP and TYPE lines from this package's own table.
//
// Cardinality rule: labels are the handler ID and a small closed set of
// values (a status, a missed reason, a state); there are no per-schedule
// or per-execution series, so the number of series grows with the number
// of handlers only.
package metric

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"

	vm "github.com/VictoriaMetrics/metrics"
)

// ContentType is the Prometheus text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// family is a metric family's TYPE and HELP.
type family struct{ typ, help string }

// exposition is a Set of series, the writer of the series read at scrape
// time, and the metadata of every family either may write.
type exposition struct {
	set      *vm.Set
	families map[string]family
	scrape   func(w io.Writer) // series computed at scrape time; may be nil
}

// write writes the exposition to w: the set's series and the scraped ones,
// each family preceded by its HELP and TYPE.
func (x *exposition) write(w io.Writer) error {
	var raw bytes.Buffer
	x.set.WritePrometheus(&raw)
	if x.scrape != nil {
		x.scrape(&raw)
	}
	bw := bufio.NewWriter(w)
	last := ""
	for line := range strings.Lines(raw.String()) {
		if line == "\n" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line
		if i := strings.IndexAny(name, "{ "); i >= 0 {
			name = name[:i]
		}
		fam := x.familyOf(name)
		if fam != last {
			if f, ok := x.families[fam]; ok {
				bw.WriteString("# HELP " + fam + " " + f.help + "\n# TYPE " + fam + " " + f.typ + "\n")
			}
			last = fam
		}
		bw.WriteString(line)
	}
	return bw.Flush()
}

// familyOf names the family of series name: a histogram's _bucket, _sum
// and _count series belong to the histogram.
func (x *exposition) familyOf(name string) string {
	if _, ok := x.families[name]; ok {
		return name
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			if f, ok := x.families[base]; ok && f.typ == "histogram" {
				return base
			}
		}
	}
	return name
}

// ServeHTTP serves the exposition.
func (x *exposition) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", ContentType)
	_ = x.write(w)
}

// label quotes a label value for the text format.
func label(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return `"` + v + `"`
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}
