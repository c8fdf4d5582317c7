package trigger

import (
	"math/big"
	"time"
)

// Interval fires at Start, Start+Every, Start+2*Every, … and never after End
// (zero End: no end). It counts absolute time, so daylight-saving
// transitions do not shift it.
type Interval struct {
	Every time.Duration
	Start time.Time
	End   time.Time
}

// Next returns the first occurrence strictly after t.
func (iv Interval) Next(t time.Time) (time.Time, bool) {
	if iv.Every <= 0 {
		return time.Time{}, false
	}
	var next time.Time
	if t.Before(iv.Start) {
		next = iv.Start
	} else {
		d := t.Sub(iv.Start)
		if k := d/iv.Every + 1; d < maxDuration && k <= maxDuration/iv.Every {
			next = iv.Start.Add(k * iv.Every)
		} else {
			next = iv.farNext(t)
		}
	}
	if !iv.End.IsZero() && next.After(iv.End) {
		return time.Time{}, false
	}
	return next, true
}

const maxDuration = time.Duration(1<<63 - 1)

// farNext handles t more than 292 years after Start, where t.Sub saturates.
func (iv Interval) farNext(t time.Time) time.Time {
	ns := func(x time.Time) *big.Int {
		v := big.NewInt(x.Unix())
		v.Mul(v, big.NewInt(1e9))
		return v.Add(v, big.NewInt(int64(x.Nanosecond())))
	}
	d := new(big.Int).Sub(ns(t), ns(iv.Start))
	every := big.NewInt(int64(iv.Every))
	k := new(big.Int).Quo(d, every)
	k.Add(k, big.NewInt(1))
	off := k.Mul(k, every)
	off.Add(off, ns(iv.Start))
	sec, nsec := new(big.Int).QuoRem(off, big.NewInt(1e9), new(big.Int))
	return time.Unix(sec.Int64(), nsec.Int64()).In(iv.Start.Location())
}
