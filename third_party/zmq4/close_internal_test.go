// Copyright 2026 The go-zeromq Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package zmq4

import (
	"context"
	"net"
	"testing"
)

// A connection its peer hung up on is closed by its reader and waits in
// the socket's list for the reaper. Closing the socket in that window must
// not report the second close of that connection as the socket's error:
// the socket did close cleanly.
func TestCloseSkipsConnsClosedByTheirReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := NewRouter(ctx, WithLogger(Devnull)).(*routerSocket)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a.Close() // what the reader did when the peer went away
	c := &Conn{rw: a}
	c.Peer.Meta = make(Metadata)
	srv.sck.mu.Lock()
	srv.sck.conns = append(srv.sck.conns, c)
	srv.sck.mu.Unlock()

	if err := srv.Close(); err != nil {
		t.Fatalf("Close = %v, want nil: the only error was a connection already closed", err)
	}
}
