package api

import "github.com/schedulezero/schedulezero/pkg/event"

// EventIDForTest is the stream's id of sequence seq of hub.
func EventIDForTest(hub *event.Hub, seq uint64) string { return EventID(hub.Epoch(), seq) }
