package notify

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// The start-up scan returns its garbage to the kernel once it has read
// more than one page of schedules (an idle scheduler's next collection
// may be minutes away), and not for a scan of one page.
func TestNotifier_Scan_ReleasesItsGarbageAfterMoreThanOnePage(t *testing.T) {
	for _, tc := range []struct {
		schedules, releases int
	}{
		{3, 0},
		{scanPage, 0},
		{scanPage + 1, 1},
		{3*scanPage + 7, 1},
	} {
		t.Run(fmt.Sprint(tc.schedules), func(t *testing.T) {
			eng := &schedules{}
			for i := range tc.schedules {
				eng.list = append(eng.list, store.Schedule{ID: fmt.Sprintf("s%06d", i)})
			}
			db := openDB(t, filepath.Join(t.TempDir(), "sz.db"))
			defer db.Close()
			n, err := New(Options{Store: db, Engine: eng})
			if err != nil {
				t.Fatal(err)
			}
			released := 0
			n.release = func() { released++ }
			for steps := 0; !n.scanned; steps++ {
				if steps > tc.schedules/scanPage+1 {
					t.Fatalf("scan not done after %d steps", steps)
				}
				n.scanStep(context.Background())
			}
			if released != tc.releases {
				t.Errorf("%d schedules: released %d times, want %d", tc.schedules, released, tc.releases)
			}
		})
	}
}
