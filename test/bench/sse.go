package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// pageRefresh is how often at most an open dashboard page re-reads itself
// while events come (the throttle of pkg/web/static/app.js).
const pageRefresh = 2 * time.Second

// ssePages is how many dashboard pages the phase opens.
const ssePages = 5

// sse measures what the dashboard costs the scheduler, with 10,000
// schedules: at rest (their first fires an hour away, the scheduler
// restarted, as in the rest phase) and firing 1,000/s (as in the lateness
// phase). Each time first with the dashboard idle (no page open), then with five overview pages open, each holding the
// event stream (GET /api/v1/events) and reading the page again as its
// script does after events. Rows: the scheduler's peak RSS of each window;
// under load also the durable executions/s of both windows (the second
// within noise of the first: the streams never slow the engine) and what
// each page received.
func sse(bin string, window time.Duration) ([]row, error) {
	rest, err := sseAtRest(bin, window)
	if err != nil {
		return nil, err
	}
	firing, err := sseFiring(bin, window)
	if err != nil {
		return nil, err
	}
	return append(rest, firing...), nil
}

func sseAtRest(bin string, window time.Duration) ([]row, error) {
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
	hc := d.httpClient()
	defer hc.CloseIdleConnections()
	idle := d.watchMemory(window)
	stop := openPages(hc)
	open := d.watchMemory(window)
	if _, _, fails := stop(); fails > 0 {
		return nil, fmt.Errorf("%d page reads or streams failed", fails)
	}
	return []row{
		{"scheduler peak RSS, 10,000 schedules at rest, dashboard idle", idle.scheduler.String(), "< 20 MB"},
		{fmt.Sprintf("scheduler peak RSS, the same with %d overview pages open", ssePages), open.scheduler.String(), "< 20 MB"},
	}, nil
}

func sseFiring(bin string, window time.Duration) ([]row, error) {
	d, err := deployFiring(bin)
	if err != nil {
		return nil, err
	}
	defer d.close()
	hc := d.httpClient()
	defer hc.CloseIdleConnections()
	idleRate, idle, err := d.measured(window)
	if err != nil {
		return nil, err
	}
	stop := openPages(hc)
	t0 := time.Now()
	openRate, open, err := d.measured(window)
	el := time.Since(t0)
	events, reads, fails := stop()
	if err != nil {
		return nil, err
	}
	if fails > 0 {
		return nil, fmt.Errorf("%d page reads or streams failed", fails)
	}
	per := func(v int64) float64 { return float64(v) / float64(ssePages) / el.Seconds() }
	return []row{
		{"scheduler peak RSS, 10,000 schedules firing 1,000/s, dashboard idle", idle.scheduler.String(), ""},
		{fmt.Sprintf("scheduler peak RSS, the same with %d overview pages open", ssePages), open.scheduler.String(), ""},
		{"  durable executions/s, dashboard idle / pages open", fmt.Sprintf("%.0f / %.0f", idleRate, openRate), "within noise"},
		{"  execution events/s and page reads/s each open page received", fmt.Sprintf("%.0f / %.1f", per(events), per(reads)), ""},
	}, nil
}

// httpClient talks HTTP to the scheduler's API socket.
func (d *deployment) httpClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", filepath.Join(d.dir, "api.sock"))
		},
	}}
}

// openPages opens ssePages pages and lets them settle; stop closes them
// and returns what they received since they settled.
func openPages(hc *http.Client) (stop func() (events, reads, fails int64)) {
	ctx, cancel := context.WithCancel(context.Background())
	pages := make([]*page, ssePages)
	var wg sync.WaitGroup
	for i := range pages {
		pages[i] = &page{hc: hc}
		wg.Add(1)
		go func() { defer wg.Done(); pages[i].open(ctx) }()
	}
	time.Sleep(2 * time.Second) // the pages load and settle: a measurement window, not a wait for a condition
	for _, p := range pages {
		p.reset()
	}
	return func() (events, reads, fails int64) {
		cancel()
		wg.Wait()
		for _, p := range pages {
			events += p.events.Load()
			reads += p.reads.Load()
			fails += p.fails.Load()
		}
		return events, reads, fails
	}
}

// measured watches the daemons' memory for window and returns the
// durable executions per second over it.
func (d *deployment) measured(window time.Duration) (float64, peaks, error) {
	n0, err := succeeded(d.c)
	if err != nil {
		return 0, peaks{}, err
	}
	t0 := time.Now()
	mem := d.watchMemory(window)
	n1, err := succeeded(d.c)
	if err != nil {
		return 0, peaks{}, err
	}
	return float64(n1-n0) / time.Since(t0).Seconds(), mem, nil
}

// page is an open dashboard overview: the event stream, and a read of the
// page at most every pageRefresh while events come.
type page struct {
	hc                   *http.Client
	dirty                atomic.Bool
	events, reads, fails atomic.Int64
}

func (p *page) reset() { p.events.Store(0); p.reads.Store(0) }

// open loads the page, then follows the stream until ctx ends.
func (p *page) open(ctx context.Context) {
	p.dirty.Store(true) // the first read is the page's load
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.reread(ctx) }()
	defer wg.Wait()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://sz/api/v1/events", nil) // a constant URL parses
	hc := *p.hc
	hc.Timeout = 0 // a stream: it ends with ctx
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			p.fails.Add(1)
		}
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "event: execution.") {
			p.events.Add(1)
			p.dirty.Store(true)
		}
	}
	if ctx.Err() == nil {
		p.fails.Add(1)
	}
}

func (p *page) reread(ctx context.Context) {
	t := time.NewTicker(pageRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !p.dirty.Swap(false) {
			continue
		}
		resp, err := p.hc.Get("http://sz/")
		if err != nil {
			p.fails.Add(1)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		p.reads.Add(1)
	}
}
