package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// The table agrees with a Go map over a long run of random puts, replaces
// and removes (removes shift entries back across the wrap of the slots),
// and stays at most 7/8 full.
func TestEntryTable_AgreesWithAMap(t *testing.T) {
	tab := newEntryTable()
	want := map[string]*entry{}
	r := rand.New(rand.NewPCG(1, 2))
	for step := range 200_000 {
		id := fmt.Sprintf("s%d", r.IntN(3000))
		switch r.IntN(3) {
		case 0, 1:
			e := newEntry(store.Schedule{ID: id}, nil)
			tab.put(e)
			want[id] = e
		case 2:
			tab.remove(id)
			delete(want, id)
		}
		if got := tab.get(id); got != want[id] {
			t.Fatalf("step %d: get(%s) = %p, want %p", step, id, got, want[id])
		}
		if tab.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, tab.len(), len(want))
		}
	}
	for id, e := range want {
		if tab.get(id) != e {
			t.Fatalf("get(%s) lost", id)
		}
	}
	seen := 0
	for e := range tab.all() {
		if want[e.rec.ID()] != e {
			t.Fatalf("all yields %s, not in the map", e.rec.ID())
		}
		seen++
	}
	if seen != len(want) || tab.len()*8 > len(tab.slots)*7 {
		t.Fatalf("all yields %d of %d; %d slots", seen, len(want), len(tab.slots))
	}
	if tab.get("nope") != nil {
		t.Fatal("get of an absent id")
	}
	var empty entryTable
	if empty.get("x") != nil || empty.len() != 0 {
		t.Fatal("the zero table is not empty")
	}
	empty.remove("x")
}

// fit shrinks a table grown by doubling to its 7/8 bound, a size that is
// no power of two, and the table still finds, adds and removes.
func TestEntryTable_Fit(t *testing.T) {
	tab := newEntryTable()
	const n = 10_000
	for i := range n {
		tab.put(newEntry(store.Schedule{ID: fmt.Sprintf("s%d", i)}, nil))
	}
	if len(tab.slots) != 16384 {
		t.Fatalf("grown to %d slots", len(tab.slots))
	}
	tab.fit()
	if want := n*8/7 + 1; len(tab.slots) != want || len(tab.tags) != want {
		t.Fatalf("fit to %d slots, want %d", len(tab.slots), want)
	}
	for i := range n {
		if id := fmt.Sprintf("s%d", i); tab.get(id) == nil || tab.get(id).rec.ID() != id {
			t.Fatalf("lost %s", id)
		}
	}
	for i := range n / 2 {
		tab.remove(fmt.Sprintf("s%d", 2*i))
	}
	for i := range n {
		tab.put(newEntry(store.Schedule{ID: fmt.Sprintf("t%d", i)}, nil))
	}
	for i := range n {
		if got := tab.get(fmt.Sprintf("s%d", i)) != nil; got != (i%2 == 1) {
			t.Fatalf("s%d present: %v", i, got)
		}
		if tab.get(fmt.Sprintf("t%d", i)) == nil {
			t.Fatalf("lost t%d", i)
		}
	}
	if tab.len() != n+n/2 || tab.len()*8 > len(tab.slots)*7 {
		t.Fatalf("len %d in %d slots", tab.len(), len(tab.slots))
	}
}
