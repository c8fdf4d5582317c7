package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// apply plans, applies and says by its exit status whether anything
// changed; a file-managed schedule is refused to rm until detached; an
// exported schedule applies back.
func TestApply(t *testing.T) {
	tb := setup(t)
	tb.seed(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "pinger.schedule")
	put := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put(file, "[Schedule]\nHandler=dingaling\nMethod=ping\nOnCalendar=*-*-* 04:00\nRetries=2\n")
	steps := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"dry run", []string{"apply", "--dry-run", dir}, exitChanged, []string{"create  pinger  (" + file + ")", "1 to create, 0 to change, 0 to delete, 0 unchanged"}},
		{"apply", []string{"apply", dir}, exitChanged, []string{"1 schedules from files: 1 created, 0 changed, 0 deleted"}},
		{"again", []string{"apply", dir}, 0, []string{"0 to create, 0 to change, 0 to delete, 1 unchanged"}},
		{"show json", []string{"--json", "schedule", "show", "pinger"}, 0, []string{`"source": "file:` + file + `"`}},
		{"show", []string{"schedule", "show", "pinger"}, 0, []string{"source         file:" + file}},
		{"list", []string{"schedule", "list"}, 0, []string{"active (file)"}},
		{"rm refused", []string{"schedule", "rm", "pinger"}, exitConflict, []string{"managed by the file " + file, "schedule detach pinger"}},
	}
	for _, st := range steps {
		out, errOut, code := tb.cli(t, st.args...)
		if code != st.code {
			t.Fatalf("%s: exit %d, want %d\n%s%s", st.name, code, st.code, out, errOut)
		}
		for _, w := range st.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%s: want %q in\n%s%s", st.name, w, out, errOut)
			}
		}
	}

	// A change: the plan shows the field.
	put(file, "[Schedule]\nHandler=dingaling\nMethod=quick_aling\nOnCalendar=*-*-* 04:00\nRetries=2\n")
	out, _, code := tb.cli(t, "apply", dir)
	if code != exitChanged || !strings.Contains(out, "Method: ping -> quick_aling") {
		t.Fatalf("change: exit %d\n%s", code, out)
	}
	if s, _ := tb.b.GetSchedule(context.Background(), "pinger"); s.Method != "quick_aling" || s.MaxAttempts != 3 {
		t.Fatalf("after the change: %+v", s)
	}

	// A broken file: --check names the line, without a scheduler.
	put(filepath.Join(dir, "broken.schedule"), "[Schedule]\nHandler=dingaling\nMethod=ping\nOnCalendar=daily\nOverlap=maybe\n")
	out, _, code = tb.cli(t, "apply", "--check", dir)
	if code != exitUsage || !strings.Contains(out, "broken.schedule:5: Overlap=:") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	// Detached, it is the API's: rm works, and the file is a conflict.
	if out, errOut, code := tb.cli(t, "schedule", "detach", "pinger"); code != 0 || !strings.Contains(out, "detached pinger from "+file) {
		t.Fatalf("detach: exit %d\n%s%s", code, out, errOut)
	}
	if err := os.Remove(filepath.Join(dir, "broken.schedule")); err != nil {
		t.Fatal(err)
	}
	if out, _, code := tb.cli(t, "apply", "--dry-run", dir); code != exitUsage || !strings.Contains(out, "the API manages it") {
		t.Fatalf("conflict: exit %d\n%s", code, out)
	}
	if _, errOut, code := tb.cli(t, "schedule", "rm", "pinger"); code != 0 {
		t.Fatalf("rm after detach: exit %d %s", code, errOut)
	}

	// Round trip: export, delete, apply.
	exp := t.TempDir()
	if _, errOut, code := tb.cli(t, "schedule", "export", "--dir", exp, "nightly"); code != 0 {
		t.Fatalf("export: %d %s", code, errOut)
	}
	before, _ := tb.b.GetSchedule(context.Background(), "nightly")
	if _, _, code := tb.cli(t, "schedule", "rm", "nightly"); code != 0 {
		t.Fatal("rm nightly")
	}
	if out, errOut, code := tb.cli(t, "apply", exp); code != exitChanged {
		t.Fatalf("apply the export: %d\n%s%s", code, out, errOut)
	}
	after, _ := tb.b.GetSchedule(context.Background(), "nightly")
	if after.Method != before.Method || after.Timezone != before.Timezone || !reflect.DeepEqual(after.Policy, before.Policy) || string(after.Trigger) != string(before.Trigger) {
		t.Errorf("round trip\nbefore %+v\nafter  %+v", before, after)
	}
}
