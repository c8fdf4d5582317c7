package web_test

import (
	"strings"
	"testing"
)

// TestOverview_FiresAtOneXShareAMark: the timeline draws one mark per X
// unit, saying how many fires it stands for, not a mark per fire (the
// page's size and its render's garbage follow the marks).
func TestOverview_FiresAtOneXShareAMark(t *testing.T) {
	s := newSite(t) // two schedules every 30 s: both next fires within one unit (86 s)
	_, body := s.do(t, "GET", "/", nil)
	if n := strings.Count(body, `class="fire"`); n != 1 {
		t.Errorf("%d marks on the timeline, want 1 for two fires at one X:\n%s", n, body)
	}
	if !strings.Contains(body, " and 1 more</title>") {
		t.Errorf("the mark does not say it stands for another fire:\n%s", body)
	}
}
