package schedulerd_test

import (
	"testing"

	"github.com/schedulezero/schedulezero/pkg/event"
)

// With embedded handlers the event ring is a quarter of the default: a
// stream that resumes from the first of 3,000 events is replayed the last
// 1,024 and told the gap; without, the default ring holds all 3,000.
func TestDaemon_EventRingOfEmbed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		embed []string
		ring  int
	}{
		{"embedded", []string{"dingaling"}, event.DefaultRing / 4},
		{"handler processes", nil, event.DefaultRing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startEmbedding(t, embedOptions(t.TempDir(), tc.embed...))
			hub := d.Engine().Events()
			base := hub.Last()
			const n = 3000
			for range n {
				hub.Publish(event.Event{Kind: event.ScheduleChanged, ScheduleID: "ring"})
			}
			s := hub.SubscribeAfter(base, 1)
			defer s.Close()
			total := int(hub.Last())
			want := min(total, tc.ring)
			if got := len(s.C); got != want {
				t.Errorf("replayed %d events of %d, want %d (ring %d)", got, total, want, tc.ring)
			}
		})
	}
}
