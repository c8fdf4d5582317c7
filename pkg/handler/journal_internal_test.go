package handler

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func entry(id string, at time.Time) journalEntry {
	return journalEntry{ExecutionID: id, Attempt: 1, Success: true, At: at.UnixMilli(), Reply: json.RawMessage(`{"success":true,"n":"` + id + `"}`)}
}

// What the journal holds survives closing and reopening it (a restart of
// the handler), and a record torn by a crash in the middle of a write is
// dropped with everything after it, while the records before it stay and
// new ones follow them.
func TestJournal_SurvivesReopenAndDropsATornTail(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	j, err := openJournal(dir, 100, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := j.append(entry(fmt.Sprint("e", i), now)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, JournalFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// A torn fourth record: a full header and half its payload.
	rec, _ := encodeRecords(nil, []journalEntry{entry("torn", now)})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(rec[:len(rec)-5])
	f.Close()

	j, err = openJournal(dir, 100, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if e, ok := j.lookup(jobKey(fmt.Sprint("e", i), 1)); !ok || string(e.Reply) != string(entry(fmt.Sprint("e", i), now).Reply) {
			t.Fatalf("e%d after reopen: %+v %v", i, e, ok)
		}
	}
	if _, ok := j.lookup(jobKey("torn", 1)); ok {
		t.Fatal("the torn record was read")
	}
	if fi2, _ := os.Stat(path); fi2.Size() != fi.Size() {
		t.Fatalf("journal is %d bytes after reopen, want the torn tail cut to %d", fi2.Size(), fi.Size())
	}
	if err := j.append(entry("after", now)); err != nil {
		t.Fatal(err)
	}
	j.close()
	j, err = openJournal(dir, 100, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	// A second process on the same directory is refused while this one
	// holds it: two writers would interleave their records.
	if j2, err := openJournal(dir, 100, time.Hour, time.Now); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		if j2 != nil {
			j2.close()
		}
		t.Fatalf("a second journal on the same directory: %v, want refused", err)
	}
	if _, ok := j.lookup(jobKey("after", 1)); !ok || len(j.index) != 4 {
		t.Fatalf("after a torn tail, a new record must follow the good ones: %d entries", len(j.index))
	}

	// A flipped byte inside a record fails its checksum.
	b, _ := os.ReadFile(path)
	b[journalHeader+3] ^= 0xff
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, JournalFile), b, 0o600)
	jb, err := openJournal(bad, 100, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer jb.close()
	if len(jb.index) != 0 {
		t.Fatalf("a corrupt first record: %d entries read, want 0", len(jb.index))
	}
}

// The journal is bounded: by count (the oldest are forgotten, and the file
// is rewritten when it holds twice the bound) and by age.
func TestJournal_BoundedByCountAndAge(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	clock := func() time.Time { return now }
	j, err := openJournal(dir, 10, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 35 {
		if err := j.append(entry(fmt.Sprint("e", i), now)); err != nil {
			t.Fatal(err)
		}
	}
	if len(j.index) != 10 || j.onDisk > 20 {
		t.Fatalf("%d entries, %d records on disk; want 10 and at most 20", len(j.index), j.onDisk)
	}
	if _, ok := j.lookup(jobKey("e24", 1)); ok {
		t.Fatal("e24 is beyond the 10 newest and still known")
	}
	if _, ok := j.lookup(jobKey("e34", 1)); !ok {
		t.Fatal("the newest entry is gone")
	}
	j.close()
	j, err = openJournal(dir, 10, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.index) != 10 {
		t.Fatalf("after compaction and reopen: %d entries, want 10", len(j.index))
	}
	j.close()
	now = now.Add(2 * time.Hour)
	j, err = openJournal(dir, 10, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if len(j.index) != 0 {
		t.Fatalf("entries older than the max age: %d kept, want 0", len(j.index))
	}
}

// The journal is bounded by the bytes of the replies it keeps too (exec
// replies carry output): the oldest go first, and the file is compacted
// when it holds twice the bound.
func TestJournal_BoundedByBytes(t *testing.T) {
	j, err := openJournal(t.TempDir(), 1000, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	one := int64(len(entry("b0", time.Now()).Reply))
	j.maxBytes = 3 * one
	for i := range 10 {
		if err := j.append(entry(fmt.Sprint("b", i), time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if len(j.index) != 3 || j.liveSize != 3*one {
		t.Fatalf("%d entries of %d bytes kept, want 3 of %d", len(j.index), j.liveSize, 3*one)
	}
	if _, ok := j.lookup(jobKey("b9", 1)); !ok {
		t.Fatal("the newest entry is gone")
	}
	if _, ok := j.lookup(jobKey("b6", 1)); ok {
		t.Fatal("b6 is beyond the byte bound and still known")
	}
	if rec := int64(len(encode1(t, entry("b9", time.Now())))); j.fileSize >= 10*rec {
		t.Fatalf("file of %d bytes after 10 records of %d: never compacted", j.fileSize, rec)
	}
}

func encode1(t *testing.T, e journalEntry) []byte {
	t.Helper()
	b, err := encodeRecords(nil, []journalEntry{e})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Concurrent appends share fsyncs: every one returns durable, and fewer
// writes than appends were made.
func TestJournal_GroupCommit(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir, 10000, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if err := j.append(entry(fmt.Sprintf("w%d-%d", w, i), time.Now())); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("640 appends, %d fsyncs", j.syncs)
	if j.syncs >= 640 {
		t.Errorf("%d fsyncs for 640 concurrent appends: not grouped", j.syncs)
	}
	j.close()
	j, err = openJournal(dir, 10000, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if len(j.index) != 640 {
		t.Fatalf("%d entries after reopen, want 640", len(j.index))
	}
}

// BenchmarkJournal_Append is the journal's cost per job: one append
// (a record written and fsynced before the reply may leave) by 1 job at a
// time, and by 64 jobs ending together, which share fsyncs (the handler's
// concurrency bounds how many can).
func BenchmarkJournal_Append(b *testing.B) {
	reply := json.RawMessage(`{"success":true,"result":{"status":"a-ling","counter":12345}}`)
	for _, par := range []int{1, 64} {
		b.Run(fmt.Sprintf("jobs=%d", par), func(b *testing.B) {
			j, err := openJournal(b.TempDir(), DefaultJournalEntries, time.Hour, time.Now)
			if err != nil {
				b.Fatal(err)
			}
			defer j.close()
			var n atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range par {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := n.Add(1); i <= int64(b.N); i = n.Add(1) {
						e := journalEntry{ExecutionID: fmt.Sprint("ex-", i), Attempt: 1, Success: true,
							At: time.Now().UnixMilli(), Reply: reply}
						if err := j.append(e); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			j.mu.Lock()
			b.ReportMetric(float64(j.syncs)/float64(b.N), "fsyncs/op")
			j.mu.Unlock()
		})
	}
}
