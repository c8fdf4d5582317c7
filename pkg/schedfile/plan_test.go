package schedfile

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// The plan creates what is new, changes what differs (naming the
// fields), deletes only what a file of these directories made, leaves
// alone the schedule of an invalid file and the API's own, and keeps a
// finished schedule finished.
func TestMakePlan(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	write(t, root, map[string]string{
		"etc/new.schedule":       "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\n",
		"etc/same.schedule":      "[Schedule]\nHandler=h\nMethod=m\nOnUnitActiveSec=10s\n",
		"etc/edited.schedule":    "[Schedule]\nHandler=h\nMethod=m2\nOnCalendar=daily\nOverlap=queue\n",
		"etc/rehomed.schedule":   "[Schedule]\nHandler=h2\nMethod=m\nOnCalendar=daily\n",
		"etc/broken.schedule":    "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\nTimeout=soon\n",
		"etc/api-owned.schedule": "[Schedule]\nHandler=h\nMethod=m\nOnCalendar=daily\n",
		"etc/fired.schedule":     "[Schedule]\nHandler=h\nMethod=m\nRunDate=2026-01-02T03:04:05Z\n",
	})
	set, err := Load([]string{etc})
	if err != nil {
		t.Fatal(err)
	}
	src := func(id string) string { return "file:" + filepath.Join(etc, id+".schedule") }
	cal := json.RawMessage(`{"type":"calendar","expr":"*-*-* 00:00:00","timezone":"UTC"}`)
	current := []store.Schedule{
		{ID: "same", HandlerID: "h", Method: "m", Source: src("same"),
			Trigger: json.RawMessage(`{"type":"interval","seconds":10,"start_time":"2026-01-01T00:00:00Z"}`)},
		{ID: "edited", HandlerID: "h", Method: "m", Trigger: cal, Source: src("edited")},
		{ID: "rehomed", HandlerID: "h", Method: "m", Trigger: cal, Source: src("rehomed")},
		{ID: "broken", HandlerID: "h", Method: "m", Trigger: cal, Source: src("broken")},
		{ID: "api-owned", HandlerID: "h", Method: "m", Trigger: cal},
		{ID: "fired", HandlerID: "h", Method: "m", Done: true, Source: src("fired"),
			Trigger: json.RawMessage(`{"type":"date","run_date":"2026-01-02T03:04:05Z"}`)},
		{ID: "gone", HandlerID: "h", Method: "m", Trigger: cal, Source: src("gone")},
		{ID: "elsewhere", HandlerID: "h", Method: "m", Trigger: cal, Source: "file:/srv/other/elsewhere.schedule"},
		{ID: "by-hand", HandlerID: "h", Method: "m", Trigger: cal},
	}
	p := MakePlan(set, current, time.UTC)
	got := map[string]string{}
	for _, st := range p.Steps {
		var fields []string
		for _, d := range st.Diffs {
			fields = append(fields, d.Field)
		}
		got[st.ID] = st.Kind + " " + strings.Join(fields, ",")
	}
	want := map[string]string{
		"new":     "create ",
		"edited":  "change Method,Policy",
		"rehomed": "replace Handler",
		"gone":    "delete ",
	}
	if len(got) != len(want) {
		t.Errorf("steps %v\nwant %v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q, want %q", id, got[id], w)
		}
	}
	if p.Unchanged != 2 { // same, fired
		t.Errorf("unchanged %d, want 2", p.Unchanged)
	}
	var invalid []string
	for _, e := range p.Invalid {
		invalid = append(invalid, e.ID)
	}
	if strings.Join(invalid, " ") != "api-owned broken" {
		t.Errorf("invalid %v, want api-owned (the API manages it) and broken", invalid)
	}
}
