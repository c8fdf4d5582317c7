package handler

import (
	"context"
	"sync"
	"time"
)

// deadlines holds the runner's live tasks in a min-heap by deadline (those
// without one last), with one timer for the earliest: a job costs a push
// and a removal under one lock, where a context.WithDeadline costs a
// runtime timer, its closure and a registration with the parent context.
// The heap also lets cancelAll reach every live task at shutdown.
type deadlines struct {
	mu       sync.Mutex
	h        []*task
	timer    *time.Timer
	armed    time.Time // when timer fires; zero when it is not set
	canceled bool      // cancelAll ran: a task added now is canceled at once
}

// never sorts the tasks without a deadline after all others.
var never = time.Unix(1<<62, 0)

func (t *task) sortKey() time.Time {
	if t.deadline.IsZero() {
		return never
	}
	return t.deadline
}

func newDeadlines() *deadlines {
	d := &deadlines{}
	d.timer = time.AfterFunc(time.Hour, d.expire)
	d.timer.Stop()
	return d
}

// add makes t live: canceled when its deadline passes or cancelAll runs.
// A deadline that passed already cancels it before add returns.
func (d *deadlines) add(t *task) {
	dl := t.deadline
	var wait time.Duration
	if !dl.IsZero() {
		if wait = time.Until(dl); wait <= 0 {
			t.cancel(context.DeadlineExceeded)
			return
		}
	}
	d.mu.Lock()
	if d.canceled {
		d.mu.Unlock()
		t.cancel(context.Canceled)
		return
	}
	t.hi = len(d.h)
	d.h = append(d.h, t)
	d.up(t.hi)
	if t.hi == 0 && !dl.IsZero() && (d.armed.IsZero() || dl.Before(d.armed)) {
		d.armed = dl
		d.timer.Reset(wait)
	}
	d.mu.Unlock()
}

// remove takes t out once its job ended. The timer is left as it is: when
// it fires for t's deadline it finds nothing due and sets itself for the
// earliest left.
func (d *deadlines) remove(t *task) {
	d.mu.Lock()
	if i := t.hi; i >= 0 {
		d.removeAt(i)
	}
	d.mu.Unlock()
}

// expire cancels the tasks whose deadline passed and sets the timer for
// the next.
func (d *deadlines) expire() {
	var due []*task
	d.mu.Lock()
	now := time.Now()
	for len(d.h) > 0 && !d.h[0].deadline.IsZero() && !d.h[0].deadline.After(now) {
		due = append(due, d.h[0])
		d.removeAt(0)
	}
	d.armed = time.Time{}
	if len(d.h) > 0 && !d.h[0].deadline.IsZero() {
		d.armed = d.h[0].deadline
		d.timer.Reset(time.Until(d.armed))
	}
	d.mu.Unlock()
	for _, t := range due {
		t.cancel(context.DeadlineExceeded)
	}
}

// cancelAll cancels every live task, and every task added from now on.
func (d *deadlines) cancelAll() {
	d.mu.Lock()
	d.canceled = true
	live := d.h
	for _, t := range live {
		t.hi = -1
	}
	d.h = nil
	d.timer.Stop()
	d.armed = time.Time{}
	d.mu.Unlock()
	for _, t := range live {
		t.cancel(context.Canceled)
	}
}

// stop releases the timer.
func (d *deadlines) stop() { d.timer.Stop() }

func (d *deadlines) removeAt(i int) {
	last := len(d.h) - 1
	d.h[i].hi = -1
	if i != last {
		d.h[i] = d.h[last]
		d.h[i].hi = i
	}
	d.h[last] = nil
	d.h = d.h[:last]
	if i != last {
		d.down(i)
		d.up(i)
	}
}

func (d *deadlines) less(i, j int) bool { return d.h[i].sortKey().Before(d.h[j].sortKey()) }

func (d *deadlines) swap(i, j int) {
	d.h[i], d.h[j] = d.h[j], d.h[i]
	d.h[i].hi, d.h[j].hi = i, j
}

func (d *deadlines) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !d.less(i, p) {
			return
		}
		d.swap(i, p)
		i = p
	}
}

func (d *deadlines) down(i int) {
	n := len(d.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && d.less(r, l) {
			c = r
		}
		if !d.less(c, i) {
			return
		}
		d.swap(i, c)
		i = c
	}
}
