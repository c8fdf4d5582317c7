package store

import (
	"context"
	"encoding/base64"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// A page of a listing is read from a bbolt cursor positioned on the key
// after the previous page's last one, so it costs what the page holds, not
// what the table holds: nothing is scanned from the start or sorted.

// PageScan bounds the records ListExecutionsPage visits for one page. A
// filter that few records match would otherwise walk the whole history to
// fill a page; with the bound, the page comes back short with a Next
// cursor and the caller decides whether to read on.
const PageScan = 2048

// ExecutionPage is one page of ListExecutionsPage.
type ExecutionPage struct {
	Executions []Execution
	// Next continues the listing after this page (ExecutionFilter.Cursor);
	// empty when nothing older matches.
	Next string
}

// encodeCursor makes a key an opaque cursor token, safe in a URL.
func encodeCursor(k []byte) string { return base64.RawURLEncoding.EncodeToString(k) }

// decodeCursor reads a token of encodeCursor; the empty token is nil (the
// start). A bad token is a field error on "cursor".
func decodeCursor(tok string) ([]byte, error) {
	if tok == "" {
		return nil, nil
	}
	k, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(k) == 0 || len(k) > maxIDLen+attemptKeySuffLen {
		return nil, field.Errorf("cursor", "%q is not a cursor of this listing", tok).
			WithFix("pass the next_cursor of the previous page as it came, or none for the first page")
	}
	return k, nil
}

// ScheduleIDs returns up to limit schedule IDs in ID order, from the first
// one after after (from the first of all when after is empty). It reads
// keys only, limit of them: a page of the engine's schedules costs the
// same with a thousand or a million.
func (db *DB) ScheduleIDs(ctx context.Context, after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("schedule ids: limit %d: must be positive", limit)
	}
	var out []string
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSchedules).Cursor()
		var k []byte
		if after == "" {
			k, _ = c.First()
		} else if k, _ = c.Seek([]byte(after)); k != nil && string(k) == after {
			k, _ = c.Next()
		}
		for ; k != nil && len(out) < limit; k, _ = c.Next() {
			db.visit(bucketSchedules)
			out = append(out, string(k))
		}
		return nil
	})
	return out, err
}

// visit tells Options.VisitFunc that a cursor stepped onto a record of
// bucket.
func (db *DB) visit(bucket []byte) { db.visitN(bucket, 1) }

// visitN is n visits, counted by a scan that keeps its loop free of calls.
func (db *DB) visitN(bucket []byte, n int) {
	if db.opts.VisitFunc != nil {
		for range n {
			db.opts.VisitFunc(string(bucket))
		}
	}
}
