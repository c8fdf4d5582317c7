//go:build !linux

package scheduler

func newAlarm(wake func()) alarm { return newTimerAlarm(wake) }
