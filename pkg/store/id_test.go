package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/store"
)

func TestCheckScheduleID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"counter", true},
		{"dingaling_quick_aling_1767323045", true}, // the original's default form
		{"job-0042", true},
		{"team@host:nightly.v2", true},
		{"...", true},
		{strings.Repeat("x", store.MaxScheduleIDLen), true},
		{"", false},
		{".", false},
		{"..", false},
		{strings.Repeat("x", store.MaxScheduleIDLen+1), false},
		{"a/../../b c?d#e", false},
		{"a\x1b[2Jb", false},
		{"a\nb", false},
		{"caf\u00e9", false},
		{"a%2Fb", false},
		{"\xff", false},
	}
	for _, tt := range tests {
		err := store.CheckScheduleID(tt.id)
		if tt.ok {
			if err != nil {
				t.Errorf("CheckScheduleID(%q) = %v, want nil", tt.id, err)
			}
			continue
		}
		var fe *field.Error
		if !errors.As(err, &fe) || fe.Field != "job_id" || !strings.Contains(fe.Fix, "A-Z a-z 0-9") {
			t.Errorf("CheckScheduleID(%q) = %v, want a job_id error stating the rule", tt.id, err)
		}
	}
}

func TestScheduleIDFrom(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dingaling_quick_aling_1767323045", "dingaling_quick_aling_1767323045"},
		{"h 1_do/it_17", "h_1_do_it_17"},
		{"caf\u00e9", "caf__"},
		{"", "schedule"},
		{"..", "schedule"},
		{strings.Repeat("y", 300), strings.Repeat("y", store.MaxScheduleIDLen)},
	}
	for _, tt := range tests {
		got := store.ScheduleIDFrom(tt.in)
		if got != tt.want {
			t.Errorf("ScheduleIDFrom(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if err := store.CheckScheduleID(got); err != nil {
			t.Errorf("ScheduleIDFrom(%q) = %q breaks the rule: %v", tt.in, got, err)
		}
	}
}
