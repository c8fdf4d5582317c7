package notify

import (
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/event"
)

// The inbox's bound is not memory taken up front: a notifier with the
// default bound of 4096 events allocates a few kilobytes, not the
// megabyte a channel of 4096 events is (resident once a steady stream
// has gone through its slots).
func TestNew_InboxNotReservedUpFront(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "sz.db"))
	defer db.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := New(Options{Store: db, Engine: &schedules{}})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Errorf("New allocated %d bytes, want at most 64 KiB (the inbox's bound is reserved up front)", got)
	}
	_ = n
}

// A stream the consumer keeps up with, one event at a time, uses a queue
// as long as the backlog, in order, however many events pass.
func TestInbox_SteadyStreamStaysSmall(t *testing.T) {
	b := newInbox(4096)
	var batch []event.Event
	for i := range 10000 {
		if !b.put(event.Event{ExecutionID: strconv.Itoa(i)}) {
			t.Fatalf("put %d refused with one event pending", i)
		}
		<-b.ready
		batch = b.take(batch)
		if len(batch) != 1 || batch[0].ExecutionID != strconv.Itoa(i) {
			t.Fatalf("take after put %d = %v, want that one event", i, batch)
		}
	}
	if c := cap(b.q) + cap(batch); c > 4 {
		t.Errorf("queue capacity %d after a steady stream, want at most 4", c)
	}
}

// A full inbox refuses; what was taken frees room, and order holds.
func TestInbox_Bound(t *testing.T) {
	b := newInbox(3)
	for i := range 5 {
		ok := b.put(event.Event{Seq: uint64(i)})
		if want := i < 3; ok != want {
			t.Errorf("put %d = %v, want %v (bound 3)", i, ok, want)
		}
	}
	got := b.take(nil)
	if len(got) != 3 || got[0].Seq != 0 || got[2].Seq != 2 {
		t.Errorf("take = %v, want events 0, 1, 2", got)
	}
	if !b.put(event.Event{Seq: 9}) {
		t.Error("put after take refused")
	}
}
