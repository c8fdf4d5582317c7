package scheduler

import (
	"testing"
	"time"
)

func TestIDSource_SortableAndUnique(t *testing.T) {
	var s idSource
	base := time.UnixMilli(1_700_000_000_000)
	seen := map[string]bool{}
	prev := ""
	for i := range 10000 {
		now := base.Add(time.Duration(i/100) * time.Millisecond) // 100 ids per millisecond
		id := s.next(now)
		if len(id) != 26 {
			t.Fatalf("id %q has %d characters", id, len(id))
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		if id <= prev {
			t.Fatalf("id %q does not sort after %q", id, prev)
		}
		prev = id
	}
	// A clock that steps back must not make ids go backwards.
	back := s.next(base)
	if back <= prev {
		t.Fatalf("after a backward clock step id %q sorts before %q", back, prev)
	}
}

func BenchmarkIDSource(b *testing.B) {
	var s idSource
	now := time.Now()
	for b.Loop() {
		_ = s.next(now)
	}
}
