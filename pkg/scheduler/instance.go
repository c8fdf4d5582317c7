package scheduler

import (
	"maps"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// An instance is one process serving a handler name: a pool has several
// (each registered with its own instance id), a handler of the original
// or one that sends no id has one, with the id "". Its fields are guarded
// by the mutex of the handlerState that holds it.
type instance struct {
	id          string // "" for a registration without one: it replaces by name
	address     string
	host        string
	labels      map[string]string
	protocol    int
	concurrency int
	// heartbeat is how often the instance said it pings; zero: it
	// promised nothing and is never judged silent.
	heartbeat time.Duration
	status    string
	firstSeen time.Time // the scheduler's clock, as the store keeps times
	lastSeen  time.Time
	// seen is the wall clock of the last register or ping, which the
	// health window is measured from (the scheduler's clock may be a
	// test's fake one).
	seen time.Time
	// unreachable: a request failed unsent on it and went to another
	// instance; it gets no new work until it pings or registers again
	// (a process killed -9 still looks healthy until its window passes).
	unreachable bool
	// restored: the instance of the name's record, restored from the
	// store at the start; the first registration takes it over.
	restored bool

	conn      Conn
	limit     int
	inFlight  int
	latencyMS float64
	errorRate float64
	errors    int64 // failed calls since the instance joined: a counter for metrics
}

// healthBeats is how many heartbeats an instance may miss before it is
// taken for frozen or dead and routed around.
const healthBeats = 3

// window is the instance's health window: silent longer, it gets no work.
func (in *instance) window() time.Duration { return healthBeats * in.heartbeat }

// healthy reports whether the instance was heard from within its window.
func (in *instance) healthy(now time.Time) bool {
	return in.heartbeat <= 0 || now.Sub(in.seen) <= in.window()
}

// ready reports whether the instance may take a new call now, ignoring
// its slots; now is only read for an instance with a heartbeat.
func (in *instance) ready(now func() time.Time, on []string) bool {
	if in.status != handlerOnline || in.conn == nil || in.unreachable {
		return false
	}
	if in.heartbeat > 0 && !in.healthy(now()) {
		return false
	}
	return len(on) == 0 || handlername.Match(in.labels, on)
}

// apply takes what a registration says about the instance.
func (in *instance) apply(reg wire.Registration, now time.Time) {
	in.id = reg.Instance
	in.address = reg.Address
	in.host = reg.Host
	if in.host == "" {
		in.host = hostOf(reg.Address)
	}
	in.labels = maps.Clone(reg.Labels)
	in.protocol = reg.Protocol
	in.concurrency = reg.Concurrency
	in.heartbeat = reg.Heartbeat
	in.status = handlerOnline
	in.lastSeen = now
	if in.firstSeen.IsZero() {
		in.firstSeen = now
	}
	in.seen = time.Now()
	in.unreachable = false
	in.restored = false
	in.limit = limitOf(reg.Protocol, reg.Concurrency)
}

// record folds one call's outcome into the latency and error EWMAs.
func (in *instance) record(d time.Duration, failed bool) {
	ms := float64(d) / float64(time.Millisecond)
	if in.latencyMS == 0 {
		in.latencyMS = ms
	} else {
		in.latencyMS += ewmaWeight * (ms - in.latencyMS)
	}
	f := 0.0
	if failed {
		f = 1
		in.errors++
	}
	in.errorRate += ewmaWeight * (f - in.errorRate)
}

func limitOf(protocol, concurrency int) int {
	if protocol < 2 {
		return 1 // the original's REP handlers serve one request at a time
	}
	return max(concurrency, 1)
}

// hostOf is the host part of a tcp:// address, "" for ipc:// and others:
// what is shown for an instance that did not say its host.
func hostOf(address string) string {
	const tcp = "tcp://"
	if len(address) <= len(tcp) || address[:len(tcp)] != tcp {
		return ""
	}
	hp := address[len(tcp):]
	for i := len(hp) - 1; i >= 0; i-- {
		if hp[i] == ':' {
			return hp[:i]
		}
	}
	return hp
}

// instanceView is what snapshot reports of one instance.
type instanceView struct {
	id, address, host, status string
	labels                    map[string]string
	healthy                   bool
	inFlight, limit           int
	latencyMS, errorRate      float64
	errors                    int64
	lastSeen                  time.Time
}

func (in *instance) view(now time.Time) instanceView {
	return instanceView{id: in.id, address: in.address, host: in.host, status: in.status,
		labels: maps.Clone(in.labels), healthy: in.healthy(now) && !in.unreachable,
		inFlight: in.inFlight, limit: in.limit, latencyMS: in.latencyMS, errorRate: in.errorRate, errors: in.errors, lastSeen: in.lastSeen}
}

// place records in rec the instance a call on conn goes to (its id and
// host), which the attempt's record keeps: history shows it, and recovery
// asks that process after a restart.
func (h *handlerState) place(rec *store.Execution, conn Conn) {
	in := owner(conn)
	if in == nil {
		return
	}
	h.mu.Lock()
	rec.Instance, rec.Host = in.id, in.host
	h.mu.Unlock()
}
