package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkMergeRecent times one merge of the default 131,072 entries of
// 10,000 schedules into an index that holds as many: the committer's
// time that the fires' commits wait for.
func BenchmarkMergeRecent(b *testing.B) {
	const entries, schedules = defaultMergeRecentAt, 10000
	db, err := Open(filepath.Join(b.TempDir(), "sz.db"), Options{NoSync: true, mergeRecentAt: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	base := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	n := 0
	fill := func() {
		for lo := 0; lo < entries; lo += 8192 {
			var ws Writes
			for range 8192 {
				n++
				ws.Executions = append(ws.Executions, Execution{ID: fmt.Sprintf("%026d", n), Attempt: 1, ScheduleID: fmt.Sprintf("bench-%07d", n%schedules),
					HandlerID: "h", Status: StatusSucceeded, ScheduledAt: base.Add(time.Duration(n) * time.Millisecond)})
			}
			if err := db.Commit(b.Context(), ws); err != nil {
				b.Fatal(err)
			}
		}
	}
	fill()
	db.exclusive.Lock()
	if _, err := db.mergeRecentChunks(); err != nil {
		b.Fatal(err)
	}
	db.exclusive.Unlock()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		fill()
		b.StartTimer()
		db.exclusive.Lock()
		_, err := db.mergeRecentChunks()
		db.exclusive.Unlock()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/merge")
}
