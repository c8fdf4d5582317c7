package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCommitBatch_FailureIsolated feeds the committer a batch in which one
// request fails inside the transaction (an empty key, which prepare would
// have rejected) and checks that only that request sees the error.
func TestCommitBatch_FailureIsolated(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "sz.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mk := func(id string) *request {
		r, err := prepare(Writes{Executions: []Execution{{ID: id, Attempt: 1, Status: StatusSucceeded, HandlerID: "h"}}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	good1, bad, good2 := mk("a"), mk("b"), mk("c")
	bad.keys[0] = nil // bbolt refuses an empty key
	results := map[string]error{}
	for name, r := range map[string]*request{"good1": good1, "bad": bad, "good2": good2} {
		r.done = func(err error) { results[name] = err }
	}
	db.commitBatch([]*request{good1, bad, good2})
	if results["good1"] != nil || results["good2"] != nil || results["bad"] == nil {
		t.Fatalf("results = %v; want only bad to fail", results)
	}
	for id, want := range map[string]error{"a": nil, "b": ErrNotFound, "c": nil} {
		if _, err := db.GetExecution(t.Context(), id); !errors.Is(err, want) {
			t.Errorf("GetExecution(%s) = %v, want %v", id, err, want)
		}
	}
	st, err := db.Stats(t.Context())
	if err != nil || st.Total != 2 || st.ByHandler["h"].Total != 2 {
		t.Errorf("Stats = %+v, %v; want the two good records counted", st, err)
	}
}

func TestMeta_RoundTrip(t *testing.T) {
	tests := []execMeta{
		{},
		{Status: StatusRunning, ScheduleID: "s", HandlerID: "h", DurationMS: 1.5},
		{Status: StatusPending, ScheduleID: "", HandlerID: "handler-with-long-name", DurationMS: -0},
	}
	for _, m := range tests {
		got, ok := decodeMeta(encodeMeta(m))
		if !ok || got != m {
			t.Errorf("decodeMeta(encodeMeta(%+v)) = %+v, %v", m, got, ok)
		}
	}
	for _, b := range [][]byte{nil, {0}, {0, 5, 'a'}, encodeMeta(tests[1])[:5]} {
		if _, ok := decodeMeta(b); ok {
			t.Errorf("decodeMeta(%x) accepted", b)
		}
	}
}

// TestCommitLazy_SharesTransaction: a lazy write waits for the next urgent
// one (here for up to an hour) and both are committed in one transaction.
func TestCommitLazy_SharesTransaction(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "sz.db"), Options{NoSync: true, Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	txid := func() int {
		var id int
		if err := db.bolt.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
			t.Fatal(err)
		}
		return id
	}
	before := txid()
	lazyDone := make(chan error, 1)
	db.CommitLazy(Writes{Executions: []Execution{{ID: "a", Attempt: 1, Status: StatusSucceeded, HandlerID: "h"}}},
		func(err error) { lazyDone <- err })
	// Time in which a committer that did not wait would commit the lazy
	// write alone: there is no condition to await for something that must
	// not happen.
	time.Sleep(50 * time.Millisecond)
	if err := db.Commit(t.Context(), Writes{Executions: []Execution{{ID: "b", Attempt: 1, Status: StatusRunning, HandlerID: "h"}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lazyDone:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatal("the urgent write is durable, the lazy one queued before it is not")
	}
	if n := txid() - before; n != 1 {
		t.Errorf("a lazy and an urgent write took %d transactions, want 1", n)
	}
}
