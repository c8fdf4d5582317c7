package scheduler

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// The engine holds an entry per schedule for as long as it runs; a field
// added to it should be a decision, so its size is held here (320 bytes is
// a size class of Go's allocator: 321 would take 352).
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n > 320 {
		t.Fatalf("entry is %d bytes; keep it to 320 (move what few schedules have behind a pointer)", n)
	}
}

// schedule must hold every field of store.Schedule but Policy, with the
// same type, or record would lose what set was given.
func TestScheduleFields(t *testing.T) {
	want := map[string]reflect.Type{}
	st := reflect.TypeFor[store.Schedule]()
	for i := range st.NumField() {
		if f := st.Field(i); f.Name != "Policy" && f.Name != "Source" {
			want[f.Name] = f.Type
		}
	}
	got := map[string]reflect.Type{}
	lt := reflect.TypeFor[schedule]()
	for i := range lt.NumField() {
		got[lt.Field(i).Name] = lt.Field(i).Type
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("schedule has fields %v\nstore.Schedule without Policy has %v", got, want)
	}
}

func TestEntry_SetRecord(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	full := store.Schedule{
		ID: "s", HandlerID: "h", Method: "m", Params: json.RawMessage(`{"a":1}`), Trigger: json.RawMessage(`{"type":"interval","seconds":10}`),
		Timezone: "Europe/Berlin", Paused: true, PausedAt: at, MaxAttempts: 3, Timeout: time.Minute,
		NextFire: at.Add(time.Hour), LastFire: at.Add(-time.Hour), FireCount: 7, MissedCount: 2, Done: true,
		CreatedAt: at.Add(-24 * time.Hour), UpdatedAt: at,
	}
	withPolicy := full
	withPolicy.Policy = store.Policy{Overlap: store.OverlapQueue, QueueLimit: 4, RandomOffset: time.Hour, RetryOn: []string{store.RetryOnError}}
	withSource := full
	withSource.Source = "file:/etc/schedulezero/schedules.d/s.schedule"
	tests := []struct {
		name     string
		rec      store.Schedule
		tuned    bool
		offsetOK func(time.Duration) bool
	}{
		{"zero policy", full, false, func(d time.Duration) bool { return d == 0 }},
		{"policy with a random offset", withPolicy, true, func(d time.Duration) bool { return d >= 0 && d < time.Hour && d == stableOffset("s", time.Hour) }},
		{"source", withSource, true, func(d time.Duration) bool { return d == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEntry(tt.rec, nil)
			if got := e.record(); !reflect.DeepEqual(got, tt.rec) {
				t.Fatalf("record() = %+v\nset %+v", got, tt.rec)
			}
			if (e.tune != nil) != tt.tuned {
				t.Errorf("tune = %v, want it set: %v", e.tune, tt.tuned)
			}
			if !tt.offsetOK(e.offset()) {
				t.Errorf("offset %v", e.offset())
			}
			if e.due() != tt.rec.NextFire.Add(e.offset()) {
				t.Errorf("due %v", e.due())
			}
		})
	}
}

// The backlog and the skips live in one allocation that goes when both
// are empty, so an idle schedule carries neither.
func TestEntry_Waiting(t *testing.T) {
	e := newEntry(store.Schedule{ID: "s"}, nil)
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	e.queue(at, "queued")
	e.addSkips(at, at.Add(time.Second), at.Add(2*time.Second), 2, "busy")
	e.addSkips(at.Add(3*time.Second), at.Add(4*time.Second), at.Add(5*time.Second), 1, "")
	if e.queued() != 1 {
		t.Fatalf("queued %d", e.queued())
	}
	if sk := e.skipped(); sk == nil || sk.n != 3 || !sk.from.Equal(at) || !sk.to.Equal(at.Add(4*time.Second)) || !sk.at.Equal(at.Add(5*time.Second)) {
		t.Fatalf("skips %+v", sk)
	}
	if item := e.dequeue(); !item.occ.Equal(at) || item.reason != "queued" {
		t.Fatalf("dequeued %+v", item)
	}
	if e.wait == nil {
		t.Fatal("the skips went with the backlog")
	}
	e.clearSkips()
	if e.wait != nil || e.skipped() != nil || e.queued() != 0 {
		t.Fatalf("an idle entry still holds %+v", e.wait)
	}
}
