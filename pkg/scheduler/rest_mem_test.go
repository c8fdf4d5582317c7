package scheduler_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

// restHeapBound is the live heap, in bytes, the engine may hold per
// schedule at rest once it has loaded 10,000 of the scale bench's
// schedules: its entry (112), its text (96: id, trigger, params), its
// slots in the table and the fire heap (about 18): 226 now, 262 with the
// 144-byte entry and the tables sized by their growth. The end-to-end row
// (anonymous memory per schedule, target 300) adds the runtime's metadata
// to this.
const restHeapBound = 240

// The heap the engine keeps per schedule after start-up, beyond what an
// engine on an empty store keeps, stays within restHeapBound: a field
// added to the entry, a second allocation per schedule or a table sized
// by its growth shows here before it shows in the bench.
func TestScheduler_Start_HeapPerScheduleAtRest(t *testing.T) {
	ctx := context.Background()
	const n = 10_000
	empty := storetest.NewWithOptions(t, store.Options{NoSync: true})
	full := storetest.NewWithOptions(t, store.Options{NoSync: true, MaxBatch: 1 << 20})
	fillSchedules(t, full, n)
	held := func(db *store.DB) int64 {
		t.Helper()
		before := liveHeap()
		eng, err := scheduler.New(ctx, scheduler.Options{Store: db})
		if err != nil {
			t.Fatal(err)
		}
		d := liveHeap() - before
		runtime.KeepAlive(eng)
		if err := eng.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		return d
	}
	fixed := held(empty)
	per := float64(held(full)-fixed) / n
	t.Logf("%.1f bytes a schedule (the engine's fixed part: %d bytes)", per, fixed)
	if per > restHeapBound {
		t.Errorf("the engine holds %.1f bytes a schedule at rest, more than %d: see docs/performance.md, Memory per schedule", per, restHeapBound)
	}
}

// liveHeap is the heap's live objects in bytes after a full collection
// (runtime.GC returns once the sweep is done).
func liveHeap() int64 {
	runtime.GC()
	runtime.GC() // the second empties the sync.Pools the first moved aside
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
