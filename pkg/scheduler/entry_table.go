package scheduler

import (
	"hash/maphash"
	"iter"
	"math/bits"
)

// entryTable is the engine's schedules by id: an open-addressed hash table
// of entry pointers, the id read from the entry itself. A Go map of them
// costs its 24-byte slots (the id's string header and the pointer) at the
// load its growth leaves, about 40 bytes a schedule; this one costs a
// pointer and a tag byte a slot, at most 7/8 full: 10 to 20 bytes
// (docs/performance.md, Memory); fit sizes it to what start-up loaded,
// any size, not a power of two. Not safe for concurrent use: the engine
// holds s.mu.
type entryTable struct {
	seed  maphash.Seed
	slots []*entry
	// tags holds, for each slot, 0 when it is empty, otherwise the top
	// seven bits of its id's hash with the high bit set: a probe compares
	// an entry's id only when its tag matches.
	tags []uint8
	n    int
}

func newEntryTable() entryTable { return entryTable{seed: maphash.MakeSeed()} }

func (t *entryTable) hash(id string) (uint64, uint8) {
	h := maphash.String(t.seed, id)
	return h, uint8(h>>57) | 0x80
}

// home is the first slot a hash probes: h scaled to the table's size.
func (t *entryTable) home(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(t.slots)))
	return int(hi)
}

// next is the slot after i, round the end.
func (t *entryTable) next(i int) int {
	if i++; i == len(t.slots) {
		return 0
	}
	return i
}

// find returns the slot of id, or of the empty slot where it would go.
func (t *entryTable) find(id string) (int, bool) {
	h, tag := t.hash(id)
	for i := t.home(h); ; i = t.next(i) {
		switch t.tags[i] {
		case 0:
			return i, false
		case tag:
			if t.slots[i].rec.ID() == id {
				return i, true
			}
		}
	}
}

// get returns the entry of id, or nil.
func (t *entryTable) get(id string) *entry {
	if t.n == 0 {
		return nil
	}
	if i, ok := t.find(id); ok {
		return t.slots[i]
	}
	return nil
}

// put makes e the entry of its id, in place of any other.
func (t *entryTable) put(e *entry) {
	if (t.n+1)*8 > len(t.slots)*7 {
		t.grow()
	}
	id := e.rec.ID()
	i, ok := t.find(id)
	if !ok {
		_, t.tags[i] = t.hash(id)
		t.n++
	}
	t.slots[i] = e
}

func (t *entryTable) grow() { t.resize(max(2*len(t.slots), 16)) }

// fit makes the table as small as its 7/8 bound allows, once start-up has
// put every schedule: doubling leaves it between 7/16 and 7/8 full (16,384
// slots for 10,000 schedules; fit: 11,429).
func (t *entryTable) fit() {
	if size := max(t.n*8/7+1, 16); size < len(t.slots) {
		t.resize(size)
	}
}

func (t *entryTable) resize(size int) {
	old := t.slots
	t.slots, t.tags = make([]*entry, size), make([]uint8, size)
	t.n = 0
	for _, e := range old {
		if e != nil {
			t.put(e)
		}
	}
}

// remove takes id's entry out, if there is one. The entries after it in
// its run move back (no tombstones: the table never fills with them).
func (t *entryTable) remove(id string) {
	if t.n == 0 {
		return
	}
	i, ok := t.find(id)
	if !ok {
		return
	}
	for j := t.next(i); t.tags[j] != 0; j = t.next(j) {
		h, _ := t.hash(t.slots[j].rec.ID())
		home := t.home(h)
		// j's entry may fill the hole at i unless its home lies in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.slots[i], t.tags[i] = t.slots[j], t.tags[j]
			i = j
		}
	}
	t.slots[i], t.tags[i] = nil, 0
	t.n--
}

func (t *entryTable) len() int { return t.n }

// all yields every entry, in no order; the table must not change meanwhile.
func (t *entryTable) all() iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		for _, e := range t.slots {
			if e != nil && !yield(e) {
				return
			}
		}
	}
}
