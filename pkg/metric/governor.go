package metric

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	vm "github.com/VictoriaMetrics/metrics"
)

// unitStates are the values of the governor's state label: systemd's
// ActiveState, which the process backend reports too; anything else is
// "other".
var unitStates = []string{"active", "activating", "deactivating", "inactive", "failed"}

var governorFamilies = map[string]family{
	"schedulezero_governor_handlers":                      {"gauge", "Handlers the governor manages."},
	"schedulezero_governor_handler_state":                 {"gauge", "1 for the unit's current state (active, activating, deactivating, inactive, failed, other), 0 for the others."},
	"schedulezero_governor_handler_restarts_total":        {"counter", "Restarts of the handler since the governor began supervising it (reset by an operator's restart)."},
	"schedulezero_governor_handler_healthy":               {"gauge", "1 while the handler passes its health checks."},
	"schedulezero_governor_handler_memory_bytes":          {"gauge", "Memory of the handler's unit (0: unknown)."},
	"schedulezero_governor_handler_check_latency_seconds": {"gauge", "Moving average of the governor's health-check round trips to the handler."},
	"schedulezero_governor_handler_check_error_ratio":     {"gauge", "Fraction of the governor's recent health checks of the handler that failed."},
}

// Unit is one managed handler as the governor sees it.
type Unit struct {
	Name           string
	State          string
	Restarts       int
	Healthy        bool
	MemoryBytes    uint64
	CheckLatencyMS float64
	CheckErrorRate float64
}

// Governor returns the governor's exposition, reading the units from list
// at each scrape.
func Governor(list func(ctx context.Context) ([]Unit, error)) http.Handler {
	set := vm.NewSet() // empty: every series is read at scrape time
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		units, err := list(r.Context())
		if err != nil {
			http.Error(w, "governor: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		x := exposition{set: set, families: governorFamilies, scrape: func(w io.Writer) { writeUnits(w, units) }}
		x.ServeHTTP(w, r)
	})
}

func writeUnits(w io.Writer, units []Unit) {
	fmt.Fprintf(w, "schedulezero_governor_handlers %d\n", len(units))
	var state, restarts, healthy, mem, lat, errs strings.Builder
	for _, u := range units {
		l := `handler=` + label(u.Name)
		cur := "other"
		for _, s := range unitStates {
			if u.State == s {
				cur = s
			}
		}
		for _, s := range append(unitStates, "other") {
			v := 0
			if s == cur {
				v = 1
			}
			fmt.Fprintf(&state, "schedulezero_governor_handler_state{%s,state=%q} %d\n", l, s, v)
		}
		fmt.Fprintf(&restarts, "schedulezero_governor_handler_restarts_total{%s} %d\n", l, u.Restarts)
		fmt.Fprintf(&healthy, "schedulezero_governor_handler_healthy{%s} %d\n", l, b2i(u.Healthy))
		fmt.Fprintf(&mem, "schedulezero_governor_handler_memory_bytes{%s} %d\n", l, u.MemoryBytes)
		fmt.Fprintf(&lat, "schedulezero_governor_handler_check_latency_seconds{%s} %g\n", l, u.CheckLatencyMS/1000)
		fmt.Fprintf(&errs, "schedulezero_governor_handler_check_error_ratio{%s} %g\n", l, u.CheckErrorRate)
	}
	io.WriteString(w, state.String()+restarts.String()+healthy.String()+mem.String()+lat.String()+errs.String())
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
