package store

import (
	"bytes"
	"slices"
)

// chunk is how both merges (mergeRecent, mergeStates) read a log in
// bounded memory: one read pass per chunk, offering every entry, leaves
// the latest entry of each of the k smallest keys above after, in key
// order. It holds at most 2k entries at a time: when 2k are held it sorts
// them (stably: among equal keys the one offered last is the latest),
// keeps the latest of each key and, of those, the k smallest, and from
// then on admits only keys up to the greatest kept, so that a later entry
// of a kept key still replaces it. Keys that are never offered twice (the
// recent index's) simply come out as the k smallest.
type chunk struct {
	k     int
	after []byte // the previous chunk's greatest key; nil: none
	limit []byte // admit only keys up to this; nil: any
	ents  chunkEntries
	spare chunkEntries // keep's other buffer
	more  bool         // a key above after was left for a later chunk
	peak  int          // the most entries held at once
}

func (c *chunk) reset(after []byte) {
	c.after, c.limit, c.more = after, nil, false
	c.ents.reset()
}

// offer considers an entry of key; both are copied.
func (c *chunk) offer(key, value []byte) {
	if c.after != nil && bytes.Compare(key, c.after) <= 0 {
		return
	}
	if c.limit != nil && bytes.Compare(key, c.limit) > 0 {
		c.more = true
		return
	}
	c.ents.add(key, value)
	c.peak = max(c.peak, c.len())
	if c.len() >= 2*c.k {
		c.keep()
	}
}

// finish leaves the chunk's entries in key order.
func (c *chunk) finish() { c.keep() }

func (c *chunk) len() int { return len(c.ents.spans) }

func (c *chunk) key(i int) []byte { return c.ents.key(c.ents.spans[i]) }

func (c *chunk) value(i int) []byte {
	sp := c.ents.spans[i]
	return c.ents.buf[sp.mid:sp.hi:sp.hi]
}

// keep sorts the entries by key and then by the order they were offered,
// and compacts the latest of each of the k smallest keys into the spare
// buffer, which becomes the entries' (the two are reused for the whole
// merge: one allocation each instead of one per key keeps a pass of
// tens of thousands of entries off the collector).
func (c *chunk) keep() {
	e := &c.ents
	slices.SortStableFunc(e.spans, func(a, b chunkSpan) int { return bytes.Compare(e.key(a), e.key(b)) })
	c.spare.reset()
	for i, sp := range e.spans {
		if i+1 < len(e.spans) && bytes.Equal(e.key(sp), e.key(e.spans[i+1])) {
			continue // a later entry of the same key follows
		}
		if len(c.spare.spans) == c.k {
			c.more = true
			break
		}
		c.spare.add(e.key(sp), e.buf[sp.mid:sp.hi])
	}
	c.ents, c.spare = c.spare, c.ents
	if c.more && c.len() > 0 {
		c.limit = append(c.limit[:0], c.key(c.len()-1)...)
	}
}

// chunkEntries holds keys and values in one buffer.
type chunkEntries struct {
	buf   []byte
	spans []chunkSpan
}

// chunkSpan is an entry's key, buf[lo:mid], and value, buf[mid:hi].
type chunkSpan struct{ lo, mid, hi int }

func (s *chunkEntries) reset() { s.buf, s.spans = s.buf[:0], s.spans[:0] }

func (s *chunkEntries) add(key, value []byte) {
	lo := len(s.buf)
	s.buf = append(s.buf, key...)
	mid := len(s.buf)
	s.buf = append(s.buf, value...)
	s.spans = append(s.spans, chunkSpan{lo, mid, len(s.buf)})
}

func (s *chunkEntries) key(sp chunkSpan) []byte { return s.buf[sp.lo:sp.mid:sp.mid] }
