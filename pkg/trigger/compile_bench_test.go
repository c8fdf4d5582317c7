package trigger_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// BenchmarkCompile is what the engine does at a schedule's first fire:
// its stored (normalized) trigger back into a Trigger.
//
//	go test -run '^$' -bench BenchmarkCompile -benchmem ./pkg/trigger
func BenchmarkCompile(b *testing.B) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, bc := range []struct{ name, raw string }{
		{"interval", `{"seconds":100,"start_time":"2026-12-07T10:00:00.123456789Z","type":"interval"}`},
		{"cron", `{"expr":"*/5 * * * *","type":"cron"}`},
	} {
		b.Run(bc.name+"/parse", func(b *testing.B) {
			raw := json.RawMessage(bc.raw)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := trigger.Parse(raw, now, time.UTC); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name, func(b *testing.B) {
			raw := json.RawMessage(bc.raw)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := trigger.Compile(raw, now, time.UTC); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
