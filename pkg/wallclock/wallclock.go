// Package wallclock reports when the host's wall clock is set: by an
// administrator, by NTP stepping it, or on resume from suspend.
//
// The engine sleeps on Go timers, which run on the monotonic clock. That is
// right for intervals, but a schedule at 12:00 wall time armed at 11:00
// still waits a full hour if the clock is then set forward to 11:59. Linux
// tells a timerfd armed with TFD_TIMER_CANCEL_ON_SET the moment
// CLOCK_REALTIME is set, so the engine can look at the clock again at once
// instead of polling it. A clock set back needs no help: occurrences that
// fired are behind the schedule's next fire time and never fire again.
package wallclock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// Watch calls changed every time the wall clock is set, until ctx is done.
// It returns an error only if the watch cannot be set up.
func Watch(ctx context.Context, changed func()) error {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("wallclock: timerfd_create: %w", err)
	}
	// os.NewFile on a non-blocking fd uses the runtime poller, so Close
	// interrupts a pending Read.
	f := os.NewFile(uintptr(fd), "timerfd")
	if err := arm(fd); err != nil {
		f.Close()
		return err
	}
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	buf := make([]byte, 8)
	for {
		_, err := f.Read(buf)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, unix.ECANCELED):
			// The clock was set; the timer is disarmed until re-armed.
			changed()
			if err := arm(fd); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("wallclock: read: %w", err)
		}
	}
}

// arm sets an absolute timer far in the future that is cancelled when the
// clock is set.
func arm(fd int) error {
	spec := unix.ItimerSpec{Value: unix.Timespec{Sec: math.MaxInt32}}
	if err := unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET, &spec, nil); err != nil {
		return fmt.Errorf("wallclock: timerfd_settime: %w", err)
	}
	return nil
}
