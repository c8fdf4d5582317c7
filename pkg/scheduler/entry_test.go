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
// added to it should be a decision, so its size is held here (144 bytes is
// a size class of Go's allocator: 145 would take 160).
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n > 112 {
		t.Fatalf("entry is %d bytes; keep it to 112, the allocator's size class (move what few schedules have behind a pointer)", n)
	}
}

// fullSchedule has every field of store.Schedule set but Policy and
// Source (which the entry keeps apart); TestEntry_FullScheduleIsFull keeps
// it so, and TestEntry_SetRecord checks that record gives back what set
// was given, so a field added to store.Schedule and not to schedule fails.
func fullSchedule(at time.Time) store.Schedule {
	return store.Schedule{
		ID: "s", HandlerID: "h", Method: "m", Params: json.RawMessage(`{"a":1}`), Trigger: json.RawMessage(`{"type":"interval","seconds":10}`),
		Timezone: "Europe/Berlin", Paused: true, PausedAt: at, MaxAttempts: 3, Timeout: time.Minute,
		NextFire: at.Add(time.Hour), LastFire: at.Add(-time.Hour), FireCount: 7, MissedCount: 2, Done: true,
		CreatedAt: at.Add(-24 * time.Hour), UpdatedAt: at.Add(time.Second),
	}
}

func TestEntry_FullScheduleIsFull(t *testing.T) {
	v := reflect.ValueOf(fullSchedule(time.Date(2026, 11, 29, 12, 0, 0, 1, time.UTC)))
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.Name != "Policy" && f.Name != "Source" && v.Field(i).IsZero() {
			t.Errorf("fullSchedule leaves %s zero: set it, and keep it in schedule (schedule_fields.go)", f.Name)
		}
	}
}

func TestEntry_SetRecord(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)
	full := fullSchedule(at)
	withPolicy := full
	withPolicy.Policy = store.Policy{Overlap: store.OverlapQueue, QueueLimit: 4, RandomOffset: time.Hour, RetryOn: []string{store.RetryOnError}}
	withSource := full
	withSource.Source = "file:/etc/schedulezero/schedules.d/s.schedule"
	running := full
	running.Paused, running.PausedAt = false, time.Time{}
	tests := []struct {
		name     string
		rec      store.Schedule
		tuned    bool
		offsetOK func(time.Duration) bool
	}{
		{"zero policy, not paused", running, false, func(d time.Duration) bool { return d == 0 }},
		{"paused", full, true, func(d time.Duration) bool { return d == 0 }},
		{"policy with a random offset", withPolicy, true, func(d time.Duration) bool { return d >= 0 && d < time.Hour && d == stableOffset("s", time.Hour) }},
		{"source", withSource, true, func(d time.Duration) bool { return d == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEntry(tt.rec, nil)
			if got := e.record(); !reflect.DeepEqual(got, tt.rec) {
				t.Fatalf("record() = %+v\nset %+v", got, tt.rec)
			}
			if (e.tuning() != nil) != tt.tuned {
				t.Errorf("tuning = %v, want it set: %v", e.tuning(), tt.tuned)
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
	if e.live == nil {
		t.Fatal("the skips went with the backlog")
	}
	e.clearSkips()
	if e.live != nil || e.skipped() != nil || e.queued() != 0 {
		t.Fatalf("an idle entry still holds %+v", e.live)
	}
}

// An instant packed and unpacked is the same instant, with the zone offset
// it had: what the store gives back after a restart.
func TestPackInstant(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	at := time.Date(2026, 7, 1, 12, 30, 0, 987654321, time.UTC)
	tests := []struct {
		name string
		t    time.Time
	}{
		{"zero", time.Time{}},
		{"UTC", at},
		{"fixed zone +05:30", at.In(time.FixedZone("IST", 5*3600+1800))},
		{"named zone in summer", at.In(berlin)},
		{"named zone in winter", at.AddDate(0, 6, 0).In(berlin)},
		{"before 1970", time.Date(1901, 2, 3, 4, 5, 6, 7, time.FixedZone("", -3*3600))},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"a nanosecond after the zero time", time.Time{}.Add(1)},
		{"the Unix epoch", time.Unix(0, 0).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ns := packInstant(tt.t)
			got := unpackInstant(v, ns)
			if !got.Equal(tt.t) || got.IsZero() != tt.t.IsZero() {
				t.Fatalf("unpack(pack(%v)) = %v", tt.t, got)
			}
			if g, w := got.Format(time.RFC3339Nano), tt.t.Format(time.RFC3339Nano); g != w {
				t.Errorf("reads back as %s, want %s", g, w)
			}
			if _, off := tt.t.Zone(); off == 0 && got.Location() != time.UTC {
				t.Errorf("location %v, want UTC as the store gives", got.Location())
			}
		})
	}
}

// The heap orders by dueKey as due would: offsets and nanoseconds count,
// ties go by id.
func TestFireHeap_OrderByDue(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	h := fireHeap{
		newEntry(store.Schedule{ID: "b", NextFire: at}, nil),
		newEntry(store.Schedule{ID: "a", NextFire: at}, nil),
		newEntry(store.Schedule{ID: "c", NextFire: at.Add(-time.Nanosecond)}, nil),
		newEntry(store.Schedule{ID: "d", NextFire: at.Add(-time.Second), Policy: store.Policy{RandomOffset: time.Hour}}, nil),
		newEntry(store.Schedule{ID: "e", NextFire: at.Add(999999999).In(time.FixedZone("", 3600))}, nil),
	}
	for i := range h {
		for j := range h {
			di, dj := h[i].due(), h[j].due()
			want := di.Before(dj) || di.Equal(dj) && h[i].rec.ID() < h[j].rec.ID()
			if got := h.Less(i, j); got != want {
				t.Errorf("Less(%s due %v, %s due %v) = %v", h[i].rec.ID(), di, h[j].rec.ID(), dj, got)
			}
		}
	}
}

// A pause is timed in the entry's tuning, which goes again with the pause
// when the schedule has no policy or source: a running schedule carries
// none.
func TestEntry_PausedAtComesAndGoes(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 5, time.FixedZone("", 3600))
	e := newEntry(store.Schedule{ID: "s"}, nil)
	e.setPausedAt(at)
	if got := e.pausedAt(); !got.Equal(at) || e.tuning() == nil {
		t.Fatalf("pausedAt %v (tuning %v), want %v", got, e.tuning(), at)
	}
	if _, off := e.record().PausedAt.Zone(); off != 3600 {
		t.Errorf("the record's PausedAt lost its offset: %d", off)
	}
	e.setPausedAt(time.Time{})
	if e.live != nil || !e.pausedAt().IsZero() {
		t.Fatalf("resumed, the entry still holds %+v", e.live)
	}
	withPolicy := newEntry(store.Schedule{ID: "p", Policy: store.Policy{QueueLimit: 2}}, nil)
	withPolicy.setPausedAt(at)
	withPolicy.setPausedAt(time.Time{})
	if withPolicy.tuning() == nil || withPolicy.policy().QueueLimit != 2 {
		t.Fatalf("resuming dropped the policy: %+v", withPolicy.tuning())
	}
}
