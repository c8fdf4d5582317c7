package handler

import (
	"context"
	"errors"
	"testing"
	"time"
)

func testTask(deadline time.Time) *task {
	return &task{values: context.Background(), deadline: deadline, hi: -1}
}

func waitDone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not done", what)
	}
}

// The heap cancels each task at its own deadline, earliest first, leaves
// alone the removed ones and those without a deadline, and cancelAll
// reaches the rest, and any added after it.
func TestDeadlines_CancelAtDeadline(t *testing.T) {
	d := newDeadlines()
	defer d.stop()
	now := time.Now()
	late, early, mid := testTask(now.Add(90*time.Millisecond)), testTask(now.Add(30*time.Millisecond)), testTask(now.Add(60*time.Millisecond))
	removed, none := testTask(now.Add(40*time.Millisecond)), testTask(time.Time{})
	for _, tk := range []*task{late, removed, early, none, mid} {
		d.add(tk)
	}
	d.remove(removed)
	order := make(chan *task, 3)
	for _, tk := range []*task{late, early, mid} {
		go func() { <-tk.Done(); order <- tk }()
	}
	for i, want := range []*task{early, mid, late} {
		got := <-order
		if got != want {
			t.Fatalf("cancel %d: task of %v, want %v", i, got.deadline.Sub(now), want.deadline.Sub(now))
		}
		if time.Now().Before(got.deadline) {
			t.Errorf("task canceled %v before its deadline", time.Until(got.deadline))
		}
		if !errors.Is(got.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(got), context.DeadlineExceeded) {
			t.Errorf("err %v, cause %v, want deadline exceeded", got.Err(), context.Cause(got))
		}
	}
	if removed.Err() != nil || none.Err() != nil {
		t.Errorf("removed %v, without deadline %v: want both live", removed.Err(), none.Err())
	}
	if dl, ok := none.Deadline(); ok || !dl.IsZero() {
		t.Errorf("Deadline of a task without one = %v %v", dl, ok)
	}
	d.cancelAll()
	if !errors.Is(none.Err(), context.Canceled) || removed.Err() != nil {
		t.Errorf("after cancelAll: live %v, removed %v", none.Err(), removed.Err())
	}
	after := testTask(time.Time{})
	d.add(after)
	if !errors.Is(after.Err(), context.Canceled) {
		t.Errorf("added after cancelAll: %v, want canceled", after.Err())
	}
}

func TestDeadlines_PastDeadlineCanceledAtAdd(t *testing.T) {
	d := newDeadlines()
	defer d.stop()
	tk := testTask(time.Now().Add(-time.Millisecond))
	d.add(tk)
	if !errors.Is(tk.Err(), context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded before add returns", tk.Err())
	}
	d.remove(tk)
}

// A job's context behaves as the context package's to what a handler
// derives from it: a child and an AfterFunc end with it, a stopped
// AfterFunc does not run.
func TestTask_DerivedContexts(t *testing.T) {
	tk := testTask(time.Time{})
	child, cancel := context.WithTimeout(tk, time.Hour)
	defer cancel()
	ran := make(chan struct{})
	context.AfterFunc(tk, func() { close(ran) })
	stop := context.AfterFunc(tk, func() { t.Error("stopped AfterFunc ran") })
	if !stop() {
		t.Error("stop before cancel = false")
	}
	if child.Err() != nil {
		t.Fatal("child done before its parent")
	}
	tk.cancel(context.Canceled)
	waitDone(t, child, "child")
	<-ran
	if !errors.Is(child.Err(), context.Canceled) {
		t.Errorf("child err %v", child.Err())
	}
	tk.cancel(context.DeadlineExceeded) // the first cancel wins
	if !errors.Is(tk.Err(), context.Canceled) {
		t.Errorf("err %v after a second cancel", tk.Err())
	}
	late := make(chan struct{})
	context.AfterFunc(tk, func() { close(late) })
	<-late
}
