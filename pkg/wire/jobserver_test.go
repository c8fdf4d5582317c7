package wire_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// The job server's writer builds each batch frame of replies in a buffer
// it keeps: a busy handler sends a frame per batch, and growing a new one
// from nothing each time cost four times its size in garbage (the peer's
// reading, once the frame's size, is what is left).
func TestJobServer_WriteReusesItsFrame(t *testing.T) {
	js, err := wire.ListenJobs("ipc://"+t.TempDir()+"/j.sock", wire.Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reply := []byte(`{"success":true,"id":"0123456789","alings":1,"counter":12345,"sound":"a-ling!","status":"success","timestamp":"2026-12-07T18:00:00.123456789Z"}`)
	const perRound = wire.MaxBatch
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		js.Recv(func(peer wire.Peer, _ []byte) {
			for range perRound {
				js.Reply(peer, reply, true)
			}
		})
	}()
	stop := make(chan struct{})
	writeDone := make(chan struct{})
	go func() { defer close(writeDone); js.Write(stop) }()
	defer func() { close(stop); <-writeDone; js.Close(); <-recvDone }()

	peer := zmq4.NewDealer(context.Background(), zmq4.WithTimeout(5*time.Second))
	defer peer.Close()
	if err := peer.Dial(js.Addr()); err != nil {
		t.Fatal(err)
	}
	round := func() {
		if err := peer.Send(zmq4.NewMsgString(`{"method":"go"}`)); err != nil {
			t.Fatal(err)
		}
		for n := 0; n < perRound; {
			msg, err := peer.Recv()
			if err != nil {
				t.Fatalf("after %d replies: %v", n, err)
			}
			// Counted, not decoded: only the server's garbage is measured.
			n += bytes.Count(msg.Frames[len(msg.Frames)-1], []byte(`"id":"0123456789"`))
		}
	}
	round() // the buffers grow once
	const rounds = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range rounds {
		round()
	}
	runtime.ReadMemStats(&after)
	frame := perRound * (len(reply) + 1)
	perRoundBytes := int(after.TotalAlloc-before.TotalAlloc) / rounds
	t.Logf("%d bytes allocated per round of %d replies (%d bytes of frames)", perRoundBytes, perRound, frame)
	if limit := 2 * frame; perRoundBytes > limit {
		t.Errorf("%s allocated per round of %d replies, want at most %s (twice the frames' %s)",
			kb(perRoundBytes), perRound, kb(limit), kb(frame))
	}
}

func kb(n int) string { return fmt.Sprintf("%.1f kB", float64(n)/1024) }
