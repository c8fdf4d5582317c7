package calendar_test

import (
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/calendar"
)

func ExampleParse() {
	ev, err := calendar.Parse("Mon..Fri 9:00 Europe/Berlin", time.UTC)
	if err != nil {
		fmt.Println(err)
		return
	}
	next, _ := ev.Next(time.Date(2026, 9, 19, 0, 0, 0, 0, time.UTC)) // a Saturday
	fmt.Println(ev)
	fmt.Println(next)
	// Output:
	// Mon..Fri *-*-* 09:00:00 Europe/Berlin
	// 2026-09-21 09:00:00 +0200 CEST
}
