package schedtype

import "time"

// Fire is a schedule's next fire: what a view of the next fires needs of
// the schedule, without its record (scheduler.Scheduler.UpcomingFires).
type Fire struct {
	ScheduleID string
	At         time.Time
}
