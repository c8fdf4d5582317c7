package scheduler

import (
	"encoding/binary"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fdAlarm is an alarm on a Linux timerfd, read through the network
// poller by one goroutine, which calls wake at each expiry.
type fdAlarm struct {
	f    *os.File
	rc   syscall.RawConn
	done chan struct{}
}

// newAlarm returns an fdAlarm, or a timerAlarm if the kernel refuses a
// timerfd.
func newAlarm(wake func()) alarm {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return newTimerAlarm(wake)
	}
	// Non-blocking, so os.NewFile hands it to the poller.
	f := os.NewFile(uintptr(fd), "alarm")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return newTimerAlarm(wake)
	}
	a := &fdAlarm{f: f, rc: rc, done: make(chan struct{})}
	go a.read(wake)
	return a
}

func (a *fdAlarm) read(wake func()) {
	defer close(a.done)
	var buf [8]byte // the expiry count
	for {
		if _, err := a.f.Read(buf[:]); err != nil {
			return // closed
		}
		if binary.NativeEndian.Uint64(buf[:]) > 0 {
			wake()
		}
	}
}

func (a *fdAlarm) Reset(d time.Duration) {
	// A zero it_value disarms: arm a due time now for a nanosecond.
	a.set(unix.NsecToTimespec(max(d.Nanoseconds(), 1)))
}

func (a *fdAlarm) Stop() { a.set(unix.Timespec{}) }

func (a *fdAlarm) set(ts unix.Timespec) {
	// It cannot fail on a valid timerfd and a valid time; were it to, the
	// loop would still wake for Nudge, heartbeats and Stop.
	_ = a.rc.Control(func(fd uintptr) {
		_ = unix.TimerfdSettime(int(fd), 0, &unix.ItimerSpec{Value: ts}, nil)
	})
}

// Close ends the reading goroutine and waits for it.
func (a *fdAlarm) Close() {
	_ = a.f.Close()
	<-a.done
}
