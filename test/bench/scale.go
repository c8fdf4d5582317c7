package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// The scale phase (-only scale) measures what grows with the size of the
// store: start-up, memory at rest, a page of each listing, and the CLI's
// history of one schedule. Its stores are built once, directly with the
// store package in bulk transactions (over the API a million schedules
// would take most of an hour), and cached under the temporary directory,
// named by the schema version; a scheduler then runs on each, with
// retention off, and nothing due before the year 2100, so the files are
// not changed by the runs.

// scaleFar is the first fire of every schedule of the scale stores.
var scaleFar = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// scaleStore is one cached store: schedules, and history records spread
// over the first historySchedules of them.
type scaleStore struct {
	schedules, history int
}

func (s scaleStore) name() string { return s.nameAt(store.SchemaVersion()) }

// nameAt is the store's name at schema version v.
func (s scaleStore) nameAt(v int) string {
	return fmt.Sprintf("v%d-%ds-%dh.db", v, s.schedules, s.history)
}

// upgradeCached brings a store that an earlier schema version cached under
// dir to this one, with the store's own migrations (cheaper than building
// it again), and reports whether there was one.
func upgradeCached(dir string, st scaleStore) (bool, error) {
	for v := store.SchemaVersion() - 1; v > 0; v-- {
		old := filepath.Join(dir, st.nameAt(v))
		if _, err := os.Stat(old); err != nil {
			continue
		}
		db, err := store.Open(old, store.Options{NoSync: true})
		if err != nil {
			return false, fmt.Errorf("migrate %s: %w", old, err)
		}
		if err := db.Close(); err != nil {
			return false, err
		}
		return true, os.Rename(old, filepath.Join(dir, st.name()))
	}
	return false, nil
}

// historySchedules is how many schedules the history records belong to.
const historySchedules = 10000

func scale(bin string, window time.Duration, sc scaleFlags, sizes []int) ([]row, error) {
	cache, history := sc.cache, sc.history
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return nil, err
	}
	var stores []scaleStore
	for _, n := range sizes {
		stores = append(stores, scaleStore{schedules: n})
	}
	if history > 0 {
		stores = append(stores, scaleStore{schedules: historySchedules, history: history})
	}
	base, err := baselineAnon(bin)
	if err != nil {
		return nil, fmt.Errorf("empty store: %w", err)
	}
	var rows []row
	for _, st := range stores {
		path := filepath.Join(cache, st.name())
		if _, err := os.Stat(path); err != nil {
			if ok, err := upgradeCached(cache, st); err != nil {
				return nil, err
			} else if ok {
				fmt.Fprintf(os.Stderr, "bench: migrated the cached %s\n", path)
			}
		}
		if _, err := os.Stat(path); err != nil {
			t0 := time.Now()
			if err := buildScaleStore(path, st); err != nil {
				return nil, fmt.Errorf("build %s: %w", path, err)
			}
			fmt.Fprintf(os.Stderr, "bench: built %s in %v\n", path, time.Since(t0).Round(time.Second))
		}
		r, err := measureScale(bin, path, st, base)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st.name(), err)
		}
		rows = append(rows, r...)
	}
	if sc.firing {
		r, err := lateness100k(bin, window)
		if err != nil {
			return nil, fmt.Errorf("100,000 schedules firing: %w", err)
		}
		rows = append(rows, r...)
	}
	if sc.prune > 0 {
		r, err := latenessPrune(bin, sc.prune)
		if err != nil {
			return nil, fmt.Errorf("firing during a prune: %w", err)
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// buildScaleStore writes st's schedules and history to a new file and
// renames it into place once complete.
func buildScaleStore(path string, st scaleStore) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	db, err := store.Open(tmp, store.Options{NoSync: true, MaxBatch: 1 << 20})
	if err != nil {
		return err
	}
	ctx := context.Background()
	created := time.Now().UTC()
	const batch = 50000
	for lo := 0; lo < st.schedules; lo += batch {
		var w store.Writes
		for i := lo; i < min(lo+batch, st.schedules); i++ {
			// Each its own start, as schedules created over the API have.
			first := scaleFar.Add(time.Duration(i) * time.Second)
			trig := json.RawMessage(`{"type":"interval","seconds":3600,"start_time":"` + first.Format(time.RFC3339) + `"}`)
			w.Schedules = append(w.Schedules, store.Schedule{
				ID: scaleID(i), HandlerID: "bench", Method: "quick_aling", Trigger: trig,
				Params: json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`), MaxAttempts: 1,
				NextFire: first, CreatedAt: created, UpdatedAt: created,
			})
		}
		if err := db.Commit(ctx, w); err != nil {
			_ = db.Close()
			return err
		}
	}
	// History: a record every 10 ms of the past, in ID (time) order, 1%
	// of them failed, round-robin over the first historySchedules.
	start := created.Add(-time.Duration(st.history) * 10 * time.Millisecond)
	for lo := 0; lo < st.history; lo += batch {
		var w store.Writes
		for i := lo; i < min(lo+batch, st.history); i++ {
			at := start.Add(time.Duration(i) * 10 * time.Millisecond)
			e := store.Execution{
				ID: fmt.Sprintf("%026d", i), Attempt: 1, MaxAttempts: 1,
				ScheduleID: scaleID(i % min(historySchedules, st.schedules)), HandlerID: "bench", Method: "quick_aling",
				Status: store.StatusSucceeded, ScheduledAt: at, StartedAt: at, CompletedAt: at.Add(time.Millisecond),
				DurationMS: 1, Result: json.RawMessage(`{"success":true}`),
			}
			if i%100 == 0 {
				e.Status, e.Error, e.Result = store.StatusFailed, "bench failure", nil
			}
			w.Executions = append(w.Executions, e)
		}
		if err := db.Commit(ctx, w); err != nil {
			_ = db.Close()
			return err
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func scaleID(i int) string { return fmt.Sprintf("bench-%07d", i) }

// measureScale restarts a scheduler on path three times, and on the last
// one measures its memory at rest and the pages.
func measureScale(bin, path string, st scaleStore, base int) ([]row, error) {
	dir, err := os.MkdirTemp("", "szs")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "api.sock")
	hc := &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	defer hc.CloseIdleConnections()
	label := fmt.Sprintf("%d schedules", st.schedules)
	if st.history > 0 {
		label = fmt.Sprintf("%d history records", st.history)
	}
	var ready []time.Duration
	var sched *child
	for range 3 {
		if sched != nil {
			sched.stop()
		}
		d, c, err := startScaleScheduler(bin, dir, path, sock)
		if err != nil {
			return nil, err
		}
		sched = c
		ready = append(ready, d)
	}
	defer sched.stop()
	time.Sleep(2 * time.Second) // at rest: let start-up's garbage be collected
	mem := readMemory(sched.pid())
	rows := []row{
		{fmt.Sprintf("%s: READY after restart (median of 3)", label), median(ready).Round(100 * time.Microsecond).String(), readyTarget(st)},
		{"  RSS at rest", mem.String(), ""},
		{"  anon bytes per schedule at rest (over an empty store's)", strconv.Itoa((mem.anon - base) * 1024 / max(st.schedules, 1)), perScheduleTarget(st)},
	}
	get := func(path string) (time.Duration, error) {
		_, d, err := scaleGet(hc, path)
		return d, err
	}
	pages := []struct{ name, path string }{
		{"GET /api/v1/schedules?limit=100", "/api/v1/schedules?limit=100"},
	}
	pages = append(pages, struct{ name, path string }{"  the same from the middle (cursor)",
		"/api/v1/schedules?limit=100&cursor=" + url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte(scaleID(st.schedules/2))))})
	if st.history > 0 {
		pages = append(pages,
			struct{ name, path string }{"GET /api/v1/executions?limit=100", "/api/v1/executions?limit=100"},
			struct{ name, path string }{"GET /api/v1/executions?handler_id=bench&limit=100", "/api/v1/executions?handler_id=bench&limit=100"},
			struct{ name, path string }{"GET /api/v1/executions?status=error&limit=100", "/api/v1/executions?status=error&limit=100"},
			struct{ name, path string }{"GET /api/v1/executions?schedule_id=" + scaleID(7) + "&limit=100", "/api/v1/executions?schedule_id=" + scaleID(7) + "&limit=100"},
			struct{ name, path string }{"GET /api/executions (legacy, window of 1,000)", "/api/executions"},
		)
	}
	for _, p := range pages {
		var ds []time.Duration
		var last error
		for i := range 7 {
			d, err := get(p.path)
			if err != nil {
				last = err
				break
			}
			ds = append(ds, d)
			if i == 2 && median(ds) > time.Second {
				break // a listing of the whole table: three say enough
			}
		}
		v := "error: " + fmt.Sprint(last)
		if last == nil {
			v = median(ds).Round(10 * time.Microsecond).String()
		}
		rows = append(rows, row{fmt.Sprintf("  %s (median of %d)", p.name, len(ds)), v, "≤ 5 ms"})
	}
	if st.history > 0 {
		var ds []time.Duration
		for range 5 {
			t0 := time.Now()
			out, err := exec.Command(filepath.Join(bin, "schedulezero"), "--api", "unix:"+sock, "history", "--schedule", scaleID(7), "-n", "20").CombinedOutput()
			if err != nil {
				return nil, fmt.Errorf("history --schedule: %w: %s", err, out)
			}
			ds = append(ds, time.Since(t0))
		}
		rows = append(rows, row{"  schedulezero history --schedule ID -n 20 (process wall time, median of 5)", median(ds).Round(100 * time.Microsecond).String(), "≤ 5 ms + process start"})
	}
	if fi, err := os.Stat(path); err == nil {
		rows = append(rows, row{"  db size", fmt.Sprintf("%.1f MB", float64(fi.Size())/(1<<20)), ""})
	}
	return rows, nil
}

// baselineAnon is the anonymous memory, in kB, of a scheduler at rest on
// an empty store: the runtime's and the daemon's own, which a schedule's
// share is counted above.
func baselineAnon(bin string) (int, error) {
	dir, err := os.MkdirTemp("", "szs")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	_, c, err := startScaleScheduler(bin, dir, filepath.Join(dir, "empty.db"), filepath.Join(dir, "api.sock"))
	if err != nil {
		return 0, err
	}
	defer c.stop()
	time.Sleep(2 * time.Second) // at rest, as measureScale
	return readMemory(c.pid()).anon, nil
}

func perScheduleTarget(st scaleStore) string {
	if st.history > 0 {
		return "" // the history's pages count too
	}
	return "≤ 300"
}

func readyTarget(st scaleStore) string {
	if st.history > 0 {
		return "" // the targets are for schedules; this store's size is its history
	}
	switch st.schedules {
	case 10000:
		return "≤ 100 ms"
	case 100000:
		return "≤ 500 ms"
	}
	return ""
}

// startScaleScheduler starts a scheduler on path and returns how long it
// took from the start of the process to its READY=1 (sd_notify).
func startScaleScheduler(bin, dir, path, sock string) (time.Duration, *child, error) {
	ns := filepath.Join(dir, "notify.sock")
	_ = os.Remove(ns)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns, Net: "unixgram"})
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	_ = os.Remove(sock)
	t0 := time.Now()
	logf, err := os.Create(filepath.Join(dir, "scheduler.log"))
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "schedulezero-scheduler"), "--db", path,
		"--zmq-bind", "ipc://"+filepath.Join(dir, "zmq.sock"), "--http-listen", "unix:"+sock, "--log-level", "error",
		"--retention-count", "0", "--retention-age", "0")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+ns)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return 0, nil, fmt.Errorf("start scheduler: %w (run make build)", err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(c.done) }()
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Minute))
	for {
		n, err := conn.Read(buf)
		if err != nil {
			c.stop()
			return 0, nil, fmt.Errorf("waiting for READY=1: %w", err)
		}
		if slices.Contains(strings.Split(string(buf[:n]), "\n"), "READY=1") {
			return time.Since(t0), c, nil
		}
	}
}

// scaleGet GETs path and returns the body and the time to its last byte.
func scaleGet(hc *http.Client, path string) ([]byte, time.Duration, error) {
	t0 := time.Now()
	resp, err := hc.Get("http://sz" + path)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	d := time.Since(t0)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s: %.200s", path, resp.Status, b)
	}
	return b, d, err
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
