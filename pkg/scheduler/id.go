package scheduler

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// crockford is the ULID alphabet: sortable, case-insensitive, no I L O U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idSource makes 26-character, time-sortable execution ids in the ULID
// layout: 48 bits of Unix milliseconds and 80 bits that start random and
// count up within a millisecond, so ids made by one scheduler sort in the
// order they were made. The store relies on that order for history.
type idSource struct {
	mu     sync.Mutex
	lastMS uint64
	hi     uint16 // top 16 of the 80 low bits
	lo     uint64 // bottom 64 bits
}

func (s *idSource) next(now time.Time) string {
	ms := uint64(now.UnixMilli())
	s.mu.Lock()
	if ms <= s.lastMS {
		ms = s.lastMS
		s.lo++
		if s.lo == 0 {
			s.hi++
		}
	} else {
		var b [10]byte
		_, _ = rand.Read(b[:])                         // never fails on Linux
		s.hi = binary.BigEndian.Uint16(b[:2]) & 0x7fff // leave room to count up
		s.lo = binary.BigEndian.Uint64(b[2:])
		s.lastMS = ms
	}
	hi, lo := s.hi, s.lo
	s.mu.Unlock()

	var out [26]byte
	// 128 bits: ms(48) | hi(16) | lo(64), written 5 bits at a time from the
	// least significant end; the first character holds the top 3 bits.
	top := ms<<16 | uint64(hi) // 64 bits: ms then hi
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | (top&31)<<59
		top >>= 5
	}
	return string(out[:])
}
