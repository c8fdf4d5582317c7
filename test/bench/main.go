// Command bench measures ScheduleZero end to end with the built binaries and
// prints one table: durable executions per second, fire lateness with 10,000
// active schedules, and the resident memory of the scheduler and a handler.
//
// Every number comes from real processes talking over real sockets, with
// history committed to a real bbolt file; `make bench` runs it. Results and
// how to read them are in docs/performance.md.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/client"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func main() {
	bin := flag.String("bin", "bin", "directory with the built binaries")
	window := flag.Duration("window", 10*time.Second, "measurement window of each phase")
	var load shape
	flag.IntVar(&load.schedules, "schedules", 10000, "schedules of the throughput phase")
	flag.Float64Var(&load.every, "every", 0.2, "interval in seconds of the throughput phase's schedules")
	flag.BoolVar(&load.together, "together", false, "start the throughput phase's schedules at the same instant instead of spread over one interval")
	only := flag.String("only", "", "run only these phases, separated by commas: throughput, backlog, wire, cluster, lateness, rest, embed, sse, scale")
	var sc scaleFlags
	flag.StringVar(&sc.cache, "scale-cache", filepath.Join(os.TempDir(), "schedulezero-bench-scale"), "where the scale phase keeps the stores it builds")
	flag.StringVar(&sc.sizes, "scale-schedules", "10000,100000,1000000", "comma-separated schedule counts of the scale phase's stores")
	flag.IntVar(&sc.history, "scale-history", 10_000_000, "history records of the scale phase's history store (0: none)")
	flag.BoolVar(&sc.firing, "scale-firing", true, "measure fire lateness with 100,000 schedules firing 1,000/s in the scale phase")
	flag.IntVar(&sc.prune, "scale-prune", 1_000_000, "expired history records the scale phase's prune row removes while firing (0: no such row)")
	flag.Parse()
	phases, err := parsePhases(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(*bin, *window, load, sc, phases); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type row struct{ metric, value, target string }

// allPhases are the phases in the order they run.
var allPhases = []string{"throughput", "backlog", "wire", "cluster", "lateness", "rest", "embed", "sse", "scale"}

// parsePhases reads -only: empty is every phase.
func parsePhases(only string) (map[string]bool, error) {
	run := map[string]bool{}
	if only == "" {
		for _, p := range allPhases {
			run[p] = true
		}
		return run, nil
	}
	for _, p := range strings.Split(only, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allPhases, p) {
			return nil, fmt.Errorf("-only %q: phase %q unknown, use %s (separated by commas)", only, p, strings.Join(allPhases, ", "))
		}
		run[p] = true
	}
	return run, nil
}

// scaleFlags are the scale phase's flags.
type scaleFlags struct {
	cache, sizes   string
	history, prune int
	firing         bool
}

func run(bin string, window time.Duration, load shape, sc scaleFlags, phases map[string]bool) error {
	var rows []row
	if phases["throughput"] {
		tput, err := throughput(bin, window, load)
		if err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
		rows = append(rows, tput...)
	}
	if phases["backlog"] {
		r, err := backlog(bin, window, load)
		if err != nil {
			return fmt.Errorf("backlog: %w", err)
		}
		rows = append(rows, r...)
	}
	if phases["wire"] {
		r, err := wireRows(bin, window, load)
		if err != nil {
			return fmt.Errorf("wire: %w", err)
		}
		rows = append(rows, r...)
	}
	if phases["cluster"] {
		r, err := clusterRows(bin, window, load)
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		rows = append(rows, r...)
	}
	if phases["lateness"] {
		lat, err := lateness(bin, window)
		if err != nil {
			return fmt.Errorf("lateness: %w", err)
		}
		rows = append(rows, lat...)
	}
	if phases["rest"] {
		rest, err := atRest(bin, window)
		if err != nil {
			return fmt.Errorf("at rest: %w", err)
		}
		rows = append(rows, rest...)
	}
	if phases["sse"] {
		r, err := sse(bin, window)
		if err != nil {
			return fmt.Errorf("sse: %w", err)
		}
		rows = append(rows, r...)
	}
	if phases["embed"] {
		r, err := embedded(bin, window)
		if err != nil {
			return fmt.Errorf("embed: %w", err)
		}
		rows = append(rows, r...)
	}
	if phases["scale"] {
		var sizes []int
		for _, f := range strings.Split(sc.sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return fmt.Errorf("-scale-schedules %q: want positive counts separated by commas", sc.sizes)
			}
			sizes = append(sizes, n)
		}
		r, err := scale(bin, window, sc, sizes)
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		rows = append(rows, r...)
	}

	host, _ := os.Hostname()
	fmt.Printf("ScheduleZero bench on %s, %d CPUs, %s\n\n", host, numCPU(), time.Now().UTC().Format(time.RFC3339))
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "metric\tmeasured\ttarget")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.metric, r.value, r.target)
	}
	return w.Flush()
}

// deployment is a scheduler and its handler processes as child processes.
type deployment struct {
	dir       string
	zmq       string // the scheduler's registration endpoint
	scheduler *child
	handlers  []*child // the instances of the one handler name
	c         *client.Client
}

// child is a started process; done closes when it has exited.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func deploy(bin, handlerName string, concurrency int) (*deployment, error) {
	return deployWith(bin, handlerName, concurrency, topology{})
}

// topology is how deployWith lays a deployment out.
type topology struct {
	// instances is how many handler processes serve the one name, each
	// with its own --instance (a pool); zero is one.
	instances int
	// curve makes both ZeroMQ channels CURVE: the scheduler a server
	// allowing the handlers' keys, every handler a client (curve.go).
	curve bool
	// cluster, if set, is the etcd the scheduler joins as a cluster
	// member (cluster.go).
	cluster string
	// prepare, if not nil, writes the store before the scheduler starts.
	prepare func(dbPath string) error
}

// deployWith starts a scheduler and top.instances handler processes of one
// name on the same host, and returns once every instance is online.
func deployWith(bin, handlerName string, concurrency int, top topology) (*deployment, error) {
	dir, err := os.MkdirTemp("", "szb")
	if err != nil {
		return nil, err
	}
	d := &deployment{dir: dir, zmq: "ipc://" + filepath.Join(dir, "zmq.sock")}
	if top.prepare != nil {
		if err := top.prepare(filepath.Join(dir, "sz.db")); err != nil {
			d.close()
			return nil, fmt.Errorf("prepare the store: %w", err)
		}
		// The store was written without fsync, to build it quickly: flush
		// it now, or the kernel writes its hundreds of megabytes back in the
		// middle of the measurement (30 s after they were written, by
		// default), stalling the scheduler's own fsyncs.
		if err := syncFile(filepath.Join(dir, "sz.db")); err != nil {
			d.close()
			return nil, fmt.Errorf("prepare the store: %w", err)
		}
	}
	var keys *curveKeys
	var schedArgs []string
	if top.curve {
		if keys, err = makeCurveKeys(bin, dir); err != nil {
			d.close()
			return nil, err
		}
		schedArgs = keys.schedulerArgs()
	}
	if top.cluster != "" {
		schedArgs = append(schedArgs, clusterArgs(top.cluster)...)
	}
	if err := d.startScheduler(bin, schedArgs...); err != nil {
		d.close()
		return nil, err
	}
	handler := filepath.Join(bin, "schedulezero-handler")
	instances := max(top.instances, 1)
	for i := range instances {
		args := []string{"--name", handlerName, "--kind", "dingaling",
			"--scheduler", d.zmq, "--endpoint", "ipc://" + filepath.Join(dir, fmt.Sprintf("h%d.sock", i)), "--concurrency", strconv.Itoa(concurrency),
			"--log-level", "error"}
		if hasFlag(handler, "--journal") { // a handler from before the journal has none
			args = append(args, "--journal", benchJournal(dir))
		}
		if instances > 1 {
			args = append(args, "--instance", fmt.Sprintf("bench-%d", i))
		}
		if keys != nil {
			args = append(args, keys.handlerArgs()...)
		}
		h, err := spawn(dir, handler, args...)
		if err != nil {
			d.close()
			return nil, err
		}
		d.handlers = append(d.handlers, h)
	}
	if err := until(20*time.Second, func(ctx context.Context) bool {
		hs, err := d.c.Handlers(ctx)
		if err != nil || len(hs) != 1 || hs[0].Status != "online" {
			return false
		}
		return instances == 1 || len(hs[0].Instances) == instances
	}); err != nil {
		d.close()
		return nil, fmt.Errorf("handler did not register (%d instances): %w", instances, err)
	}
	return d, nil
}

// benchJournal is the handler's --journal: a journal in the deployment's
// directory when SZ_BENCH_JOURNAL=on, so that the same sitting can
// measure with the journal and without (the default, as outside systemd).
func benchJournal(dir string) string {
	if os.Getenv("SZ_BENCH_JOURNAL") == "on" {
		return filepath.Join(dir, "journal")
	}
	return "off"
}

// startScheduler starts the scheduler on the deployment's file and waits
// until its API answers.
func (d *deployment) startScheduler(bin string, extra ...string) error {
	sock := filepath.Join(d.dir, "api.sock")
	var err error
	args := []string{"--db", filepath.Join(d.dir, "sz.db"),
		"--zmq-bind", d.zmq, "--http-listen", "unix:" + sock, "--log-level", "error"}
	if hasFlag(filepath.Join(bin, "schedulezero-scheduler"), "--min-interval") {
		// The throughput phase fires every -every (0.2 s); a scheduler
		// from before the floor has no such flag and no floor.
		args = append(args, "--min-interval", "1ms")
	}
	d.scheduler, err = spawn(d.dir, filepath.Join(bin, "schedulezero-scheduler"), append(args, extra...)...)
	if err != nil {
		return err
	}
	if d.c == nil {
		if d.c, err = client.New("unix:"+sock, client.WithTimeout(30*time.Second)); err != nil {
			return err
		}
	}
	if err := until(20*time.Second, func(ctx context.Context) bool { _, err := d.c.Health(ctx); return err == nil }); err != nil {
		return fmt.Errorf("scheduler did not come up: %w", err)
	}
	return nil
}

// hasFlag reports whether the program at path lists flag in its --help, so
// the bench can compare builds from before and after a flag was added.
func hasFlag(path, flag string) bool {
	out, _ := exec.Command(path, "--help").CombinedOutput()
	return strings.Contains(string(out), flag+" ")
}

// syncFile flushes the file at path to disk.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

func spawn(dir, path string, args ...string) (*child, error) {
	logf, err := os.Create(filepath.Join(dir, filepath.Base(path)+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w (run make build)", path, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(c.done) }()
	return c, nil
}

func (d *deployment) close() {
	d.stop()
	if d.c != nil {
		d.c.Close()
	}
	os.RemoveAll(d.dir)
}

// stop ends the handler, then the scheduler, each with SIGTERM.
func (d *deployment) stop() {
	for _, c := range append(slices.Clone(d.handlers), d.scheduler) {
		if c != nil {
			c.stop()
		}
	}
}

// stop ends c with SIGTERM, or SIGKILL after 30 s.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// until polls cond every 20 ms for at most limit.
func until(limit time.Duration, cond func(context.Context) bool) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok := cond(ctx)
		cancel()
		if ok {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("timed out")
}

// addSchedules creates n interval schedules in parallel; they first fire
// at start (zero: one interval after each is created), or, with spread,
// schedule i at start + i/n of the interval.
func addSchedules(c *client.Client, handler, method string, n int, every float64, start time.Time, spread bool) error {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	next := make(chan int)
	trigger := func(i int) json.RawMessage {
		spec := map[string]any{"type": "interval", "seconds": every}
		if !start.IsZero() {
			at := start
			if spread {
				at = at.Add(time.Duration(float64(i) / float64(n) * every * float64(time.Second)))
			}
			spec["start_time"] = at.UTC().Format(time.RFC3339Nano)
		}
		b, _ := json.Marshal(spec)
		return b
	}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				trig := trigger(i)
				_, err := c.CreateSchedule(context.Background(), api.CreateScheduleRequest{
					ID: fmt.Sprintf("bench-%05d", i), HandlerID: handler, Method: method, Trigger: trig,
					MaxAttempts: 1,
				})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

func succeeded(c *client.Client) (int64, error) {
	st, err := c.Stats(context.Background())
	if err != nil {
		return 0, err
	}
	return st.ByStatus[store.StatusSucceeded], nil
}

// shape is the throughput phase's load (flags -schedules and -every).
type shape struct {
	schedules int
	every     float64 // seconds
	together  bool    // all first fires at one instant (default: spread over one interval)
}

// throughput runs load.schedules schedules (default 10,000 every 200 ms:
// 50,000 fires/s offered, more than the suite completes, so what is
// counted is its capacity; the default overlap policy "skip" keeps at most
// one execution of each in flight and counts the rest as skipped) and
// counts the executions whose success was committed to bbolt per second.
// Their first fires are spread evenly over one interval (-together: all at
// one instant), and start once all exist, so creating them is not
// measured.
func throughput(bin string, window time.Duration, load shape) ([]row, error) {
	rate, cpu, mem, err := measureThroughputCPU(bin, window, load, topology{})
	if err != nil {
		return nil, err
	}
	return []row{
		{fmt.Sprintf("durable executions/s (fire → zmq → handler → result in bbolt; %.0f fires/s offered)", float64(load.schedules)/load.every),
			fmt.Sprintf("%.0f", rate), "≥ 30,000"},
		{"  scheduler peak RSS under that load", mem.scheduler.String(), ""},
		{"  handler peak RSS under that load", mem.handler.String(), ""},
		{"  scheduler CPU per durable execution", micros(cpu.scheduler), ""},
		{"  handler CPU per durable execution", micros(cpu.handlers), ""},
	}, nil
}

// micros is d as the bench's CPU rows print it: "12.3 µs".
func micros(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// measureThroughput deploys top, runs load on it and returns the durable
// executions per second over window, the CPU time the scheduler and the
// handlers spent per execution, and the daemons' peak memory.
func measureThroughput(bin string, window time.Duration, load shape, top topology) (float64, time.Duration, peaks, error) {
	rate, cpu, mem, err := measureThroughputCPU(bin, window, load, top)
	return rate, cpu.scheduler + cpu.handlers, mem, err
}

// cpuUse is CPU time (utime+stime) per durable execution, of the
// scheduler and of the handler processes together.
type cpuUse struct{ scheduler, handlers time.Duration }

// measureThroughputCPU is measureThroughput with the CPU per execution
// of the scheduler and of the handlers apart.
func measureThroughputCPU(bin string, window time.Duration, load shape, top topology) (float64, cpuUse, peaks, error) {
	d, err := deployWith(bin, "bench", 2*load.schedules, top)
	if err != nil {
		return 0, cpuUse{}, peaks{}, err
	}
	defer d.close()
	m, err := runLoad(d, window, load)
	if err != nil {
		return 0, cpuUse{}, peaks{}, err
	}
	var per cpuUse
	if m.executions > 0 {
		per = cpuUse{scheduler: m.scheduler / time.Duration(m.executions), handlers: m.handlers / time.Duration(m.executions)}
	}
	return float64(m.executions) / m.elapsed.Seconds(), per, m.mem, nil
}

// loadRun is what runLoad measured over its window.
type loadRun struct {
	executions          int64         // durable successes
	elapsed             time.Duration // the window, as it ran
	scheduler, handlers time.Duration // CPU time spent
	mem                 peaks
}

// runLoad puts load on d (its schedules start once all exist, so that
// creating them is not measured) and measures it over window after a
// warm-up.
func runLoad(d *deployment, window time.Duration, load shape) (loadRun, error) {
	start := time.Now().Add(20 * time.Second)
	if err := addSchedules(d.c, "bench", "quick_aling", load.schedules, load.every, start, !load.together); err != nil {
		return loadRun{}, err
	}
	time.Sleep(time.Until(start) + 3*time.Second) // warm up: a measurement window, not a wait for a condition
	n0, err := succeeded(d.c)
	if err != nil {
		return loadRun{}, err
	}
	t0 := time.Now()
	sched0, handlers0 := d.cpuTimes()
	mem := d.watchMemory(window)
	sched1, handlers1 := d.cpuTimes()
	n1, err := succeeded(d.c)
	if err != nil {
		return loadRun{}, err
	}
	return loadRun{executions: n1 - n0, elapsed: time.Since(t0), scheduler: sched1 - sched0, handlers: handlers1 - handlers0, mem: mem}, nil
}

// deployFiring deploys a scheduler and handler with 10,000 schedules every
// 10 s, their first fires spread evenly over one interval, so that the
// engine fires a steady 1,000 a second, and returns after one whole round.
func deployFiring(bin string) (*deployment, error) {
	d, err := deploy(bin, "bench", 256)
	if err != nil {
		return nil, err
	}
	const n, every = 10000, 10.0
	start := time.Now().Add(15 * time.Second)
	if err := addSchedules(d.c, "bench", "quick_aling", n, every, start, true); err != nil {
		d.close()
		return nil, err
	}
	time.Sleep(time.Until(start) + every*time.Second) // warm up: a measurement window, not a wait for a condition
	return d, nil
}

// lateness runs 10,000 schedules every 10 s (1,000 fires/s, evenly spread)
// and reads, from history, how long after its due time each occurrence of
// the window started; the memory rows are the peaks over the window.
func lateness(bin string, window time.Duration) ([]row, error) {
	d, err := deployFiring(bin)
	if err != nil {
		return nil, err
	}
	defer d.close()
	from := time.Now()
	mem := d.watchMemory(window)
	to := time.Now()
	// History is read from the file once the daemons have stopped: polling
	// the API during the window would add its own load to what is measured
	// (decoding and encoding thousands of records a second, and the
	// garbage collections that causes in the scheduler).
	d.stop()
	db, err := store.Open(filepath.Join(d.dir, "sz.db"), store.Options{})
	if err != nil {
		return nil, err
	}
	recs, err := db.ListExecutions(context.Background(), store.ExecutionFilter{Status: store.StatusSucceeded})
	db.Close()
	if err != nil {
		return nil, err
	}
	seen := map[string]time.Duration{}
	for _, r := range recs {
		if !r.ScheduledAt.Before(from) && r.ScheduledAt.Before(to) {
			seen[r.ID] = r.StartedAt.Sub(r.ScheduledAt)
		}
	}
	if len(seen) == 0 {
		return nil, errors.New("no executions observed")
	}
	lat := make([]time.Duration, 0, len(seen))
	for _, l := range seen {
		lat = append(lat, l)
	}
	slices.Sort(lat)
	q := func(p float64) string { return lat[int(p*float64(len(lat)-1))].Round(time.Microsecond).String() }
	return []row{
		{fmt.Sprintf("fire lateness p50, 10,000 schedules (%d fires sampled)", len(lat)), q(0.50), ""},
		{"fire lateness p99, 10,000 schedules", q(0.99), "< 2ms"},
		{"scheduler peak RSS, 10,000 schedules firing 1,000/s", mem.scheduler.String(), "< 20 MB"},
		{"handler peak RSS, 1,000 jobs/s", mem.handler.String(), "< 10 MB"},
	}, nil
}

// atRest creates 10,000 schedules that first fire in an hour, restarts the
// scheduler and measures its memory once it has loaded them: what a
// scheduler holding that many schedules costs when it is not firing, with
// none of the garbage of creating them over the API.
func atRest(bin string, window time.Duration) ([]row, error) {
	d, err := deploy(bin, "bench", 16)
	if err != nil {
		return nil, err
	}
	defer d.close()
	if err := addSchedules(d.c, "bench", "quick_aling", 10000, 3600, time.Now().Add(time.Hour), true); err != nil {
		return nil, err
	}
	d.scheduler.stop()
	if err := d.startScheduler(bin); err != nil {
		return nil, err
	}
	mem := d.watchMemory(window)
	return []row{{"scheduler peak RSS, 10,000 schedules at rest (after a restart)", mem.scheduler.String(), ""}}, nil
}

// memory is where a process's resident pages are, from /proc/PID/smaps,
// in kB: anon is the process's own memory (heap, stacks, the runtime's);
// binary the pages of its executable file that are mapped; store those of
// the mapped bbolt file (the scheduler's); file any other file pages. The
// file pages are the page cache, shared with every process that maps or
// reads the same file and dropped by the kernel when memory is short;
// fault-around maps them 64 kB at a time, so a file that is in the page
// cache counts almost whole once the process has touched it here and
// there. rss is the sum, what ps and top show.
type memory struct{ rss, anon, binary, store, file int }

func (m memory) String() string {
	if m.rss == 0 {
		return "n/a"
	}
	mb := func(kb int) float64 { return float64(kb) / 1024 }
	s := fmt.Sprintf("%.1f MB (anon %.1f, binary %.1f", mb(m.rss), mb(m.anon), mb(m.binary))
	if m.store > 0 {
		s += fmt.Sprintf(", store %.1f", mb(m.store))
	}
	if m.file > 0 {
		s += fmt.Sprintf(", file %.1f", mb(m.file))
	}
	return s + ")"
}

// peaks holds the largest sample of each daemon (of the handlers, the
// largest of any instance).
type peaks struct{ scheduler, handler memory }

// watchMemory samples both daemons' memory every 100 ms for span and returns
// the sample with the largest rss of each: the peak, not one moment.
func (d *deployment) watchMemory(span time.Duration) peaks {
	var p peaks
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	end := time.After(span)
	for {
		if m := readMemory(d.scheduler.pid()); m.rss > p.scheduler.rss {
			p.scheduler = m
		}
		for _, h := range d.handlers {
			if m := readMemory(h.pid()); m.rss > p.handler.rss {
				p.handler = m
			}
		}
		select {
		case <-end:
			return p
		case <-tick.C:
		}
	}
}

// readMemory sums the Rss and Anonymous lines of each mapping in
// /proc/PID/smaps by what the mapping is: the anonymous pages of a file
// mapping (a binary's written data) are the process's own.
func readMemory(pid int) memory {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return memory{}
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return memory{}
	}
	defer f.Close()
	var m memory
	var path string
	var rss int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(k, " ") {
			// A mapping's header: address range, perms, offset,
			// device, inode, then the path if it has one.
			if fields := strings.Fields(line); len(fields) >= 6 {
				path = fields[5]
			} else {
				path = ""
			}
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "Rss":
			rss = n
			m.rss += n
		case "Anonymous":
			m.anon += n
			switch file := rss - n; {
			case path == "" || strings.HasPrefix(path, "["):
			case path == exe:
				m.binary += file
			case strings.HasSuffix(path, ".db"):
				m.store += file
			default:
				m.file += file
			}
		}
	}
	return m
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}
