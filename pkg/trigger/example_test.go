package trigger_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/trigger"
)

func ExampleParse() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	trig, norm, err := trigger.Parse(json.RawMessage(`{"type":"interval","minutes":30}`), now, time.UTC)
	if err != nil {
		fmt.Println(err)
		return
	}
	next, _ := trig.Next(now)
	fmt.Println(string(norm))
	fmt.Println(next.Format(time.RFC3339))

	_, _, err = trigger.Parse(json.RawMessage(`{"type":"cron","hour":25}`), now, time.UTC)
	fmt.Println(err)
	// Output:
	// {"minutes":30,"start_time":"2026-01-02T03:04:05Z","type":"interval"}
	// 2026-01-02T03:34:05Z
	// hour: hour "25": want a number 0-23 (use a number, "*", "*/n", "a-b", "a-b/n" or a comma list)
}

func ExampleParseCrontab() {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := trigger.ParseCrontab("30 2 * * *", berlin)
	if err != nil {
		fmt.Println(err)
		return
	}
	// 02:30 does not exist on 2026-03-29: it fires at the jump to 03:00.
	t := time.Date(2026, 3, 28, 12, 0, 0, 0, berlin)
	for range 2 {
		t, _ = c.Next(t)
		fmt.Println(t.Format(time.RFC3339))
	}
	// Output:
	// 2026-03-29T03:00:00+02:00
	// 2026-03-30T02:30:00+02:00
}
