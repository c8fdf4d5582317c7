// Copyright 2018 The go-zeromq Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Package curve provides the ZeroMQ CURVE security mechanism of
// https://rfc.zeromq.org/spec:26/CURVEZMQ/ and
// https://rfc.zeromq.org/spec:25/ZMTP-CURVE/, compatible with libzmq's:
// a HELLO/WELCOME/INITIATE/READY handshake between short-term key pairs,
// authenticated by the long-term keys, then every frame in a MESSAGE box.
package curve

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/go-zeromq/zmq4"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
)

// Sizes of the handshake commands' bodies, after their names.
const (
	helloSize    = 2 + 72 + 32 + 8 + 80 // version, padding, C', nonce, box
	welcomeSize  = 16 + 144             // nonce, box[S' + cookie]
	cookieSize   = 16 + 80              // nonce, secretbox[C' + s']
	initiateMin  = cookieSize + 8 + 16 + 32 + 96
	readyMin     = 8 + 16
	messageMin   = 8 + 8 + 16 + 1 // "\x07MESSAGE", nonce, MAC, flags
	flagMore     = 0x01
	flagCommand  = 0x02
	cmdMessage   = "\x07MESSAGE"
	statusDenied = "400"
)

var (
	// ErrDenied is returned by a server's handshake when its Authorizer
	// refuses the client's public key, and by a client's when the server
	// refuses it with an ERROR.
	ErrDenied = errors.New("security/curve: client key not allowed")
	// ErrHandshake is returned for a handshake command that is malformed,
	// out of place or whose box does not open.
	ErrHandshake = errors.New("security/curve: bad handshake")
	// ErrMessage is returned for a MESSAGE that is malformed, replayed or
	// whose box does not open; the connection is closed.
	ErrMessage = errors.New("security/curve: bad message")
)

// Authorizer tells whether a client's long-term public key may connect. It is
// asked at INITIATE, before the server sends READY, so a refused client never
// has a message read (as a ZAP handler answering 400).
type Authorizer func(client PublicKey) bool

// AllowKeys returns an Authorizer allowing only the given keys.
func AllowKeys(keys ...PublicKey) Authorizer {
	set := make(map[PublicKey]struct{}, len(keys))
	for _, k := range keys {
		set[k] = struct{}{}
	}
	return func(client PublicKey) bool {
		_, ok := set[client]
		return ok
	}
}

type security struct {
	server    bool
	secret    SecretKey
	public    PublicKey
	serverKey PublicKey // client: the server's long-term public key
	authorize Authorizer
	rand      io.Reader
}

// NewClient returns the client side of CURVE, with the client's long-term
// secret key and the server's public key (ZMQ_CURVE_SECRETKEY,
// ZMQ_CURVE_SERVERKEY).
func NewClient(secret SecretKey, server PublicKey) zmq4.Security {
	return &security{secret: secret, public: secret.Public(), serverKey: server, rand: rand.Reader}
}

// NewServer returns the server side of CURVE (ZMQ_CURVE_SERVER) with its
// long-term secret key. authorize nil allows any client that knows the
// server's public key, as libzmq without a ZAP handler.
func NewServer(secret SecretKey, authorize Authorizer) zmq4.Security {
	return &security{server: true, secret: secret, public: secret.Public(), authorize: authorize, rand: rand.Reader}
}

// Type returns the security mechanism type.
func (*security) Type() zmq4.SecurityType { return zmq4.CurveSecurity }

// Encrypt writes data to w as it is: only the handshake's commands, which
// carry their own boxes, pass here; the frames after it go through the
// connection's FrameCodec.
func (*security) Encrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }

// Decrypt writes data to w as it is (see Encrypt).
func (*security) Decrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }

// Handshake runs the CURVE handshake over conn in the role the Security was
// made for (libzmq's ZMQ_CURVE_SERVER, not which side dialled).
func (sec *security) Handshake(conn *zmq4.Conn, _ bool) error {
	if sec.server {
		return sec.serverHandshake(conn)
	}
	return sec.clientHandshake(conn)
}

func nonce(prefix string, tail []byte) *[24]byte {
	var n [24]byte
	copy(n[:], prefix)
	copy(n[len(prefix):], tail)
	return &n
}

func short(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func (sec *security) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(sec.rand, b); err != nil {
		return nil, fmt.Errorf("security/curve: could not read random bytes: %w", err)
	}
	return b, nil
}

// recv reads the next command, which must be want; an ERROR from the peer
// is returned as one.
func recv(conn *zmq4.Conn, want string) ([]byte, error) {
	cmd, err := conn.RecvCmd()
	if err != nil {
		return nil, fmt.Errorf("security/curve: could not receive %s: %w", want, err)
	}
	if cmd.Name == zmq4.CmdError {
		reason := ""
		if len(cmd.Body) > 0 && int(cmd.Body[0]) <= len(cmd.Body)-1 {
			reason = string(cmd.Body[1 : 1+int(cmd.Body[0])])
		}
		if reason == statusDenied {
			return nil, fmt.Errorf("%w: the server refused this client's public key (ERROR %s)", ErrDenied, reason)
		}
		return nil, fmt.Errorf("%w: the server sent ERROR %q instead of %s", ErrHandshake, reason, want)
	}
	if cmd.Name != want {
		return nil, fmt.Errorf("%w: got %q, want %s", ErrHandshake, cmd.Name, want)
	}
	return cmd.Body, nil
}

func (sec *security) clientHandshake(conn *zmq4.Conn) error {
	cpub, csec, err := box.GenerateKey(sec.rand)
	if err != nil {
		return fmt.Errorf("security/curve: could not generate short-term key: %w", err)
	}
	serverKey := [KeySize]byte(sec.serverKey)
	longSecret := [KeySize]byte(sec.secret)
	var n uint64 = 1

	// HELLO: C', and a box of zeros proving we know S.
	hello := make([]byte, 0, helloSize)
	hello = append(hello, 1, 0)
	hello = append(hello, make([]byte, 72)...)
	hello = append(hello, cpub[:]...)
	hello = append(hello, short(n)...)
	hello = box.Seal(hello, make([]byte, 64), nonce("CurveZMQHELLO---", short(n)), &serverKey, csec)
	if err := conn.SendCmd(zmq4.CmdHello, hello); err != nil {
		return fmt.Errorf("security/curve: could not send HELLO: %w", err)
	}

	// WELCOME: S' and the cookie, from S.
	welcome, err := recv(conn, zmq4.CmdWelcome)
	if err != nil {
		return err
	}
	if len(welcome) != welcomeSize {
		return fmt.Errorf("%w: WELCOME of %d bytes", ErrHandshake, len(welcome))
	}
	plain, ok := box.Open(nil, welcome[16:], nonce("WELCOME-", welcome[:16]), &serverKey, csec)
	if !ok {
		return fmt.Errorf("%w: WELCOME box does not open (wrong server key?)", ErrHandshake)
	}
	var spub [KeySize]byte
	copy(spub[:], plain[:32])
	cookie := plain[32:]
	var shared [32]byte
	box.Precompute(&shared, &spub, csec)

	// INITIATE: cookie, then C, the vouch [C' + S] from C to S', metadata.
	vn, err := sec.random(16)
	if err != nil {
		return err
	}
	vouch := append(append([]byte{}, cpub[:]...), serverKey[:]...)
	meta, err := conn.Meta.MarshalZMTP()
	if err != nil {
		return fmt.Errorf("security/curve: could not marshal metadata: %w", err)
	}
	inner := make([]byte, 0, 32+16+80+len(meta))
	inner = append(inner, sec.public[:]...)
	inner = append(inner, vn...)
	inner = box.Seal(inner, vouch, nonce("VOUCH---", vn), &spub, &longSecret)
	inner = append(inner, meta...)
	n++
	initiate := make([]byte, 0, cookieSize+8+16+len(inner))
	initiate = append(initiate, cookie...)
	initiate = append(initiate, short(n)...)
	initiate = box.SealAfterPrecomputation(initiate, inner, nonce("CurveZMQINITIATE", short(n)), &shared)
	if err := conn.SendCmd(zmq4.CmdInitiate, initiate); err != nil {
		return fmt.Errorf("security/curve: could not send INITIATE: %w", err)
	}

	// READY: the server's metadata.
	ready, err := recv(conn, zmq4.CmdReady)
	if err != nil {
		return err
	}
	if len(ready) < readyMin {
		return fmt.Errorf("%w: READY of %d bytes", ErrHandshake, len(ready))
	}
	peerNonce := binary.BigEndian.Uint64(ready[:8])
	plain, ok = box.OpenAfterPrecomputation(nil, ready[8:], nonce("CurveZMQREADY---", ready[:8]), &shared)
	if !ok {
		return fmt.Errorf("%w: READY box does not open", ErrHandshake)
	}
	if err := conn.Peer.Meta.UnmarshalZMTP(plain); err != nil {
		return fmt.Errorf("security/curve: could not unmarshal peer metadata: %w", err)
	}
	conn.SetFrameCodec(&codec{shared: shared, send: "CurveZMQMESSAGEC", recv: "CurveZMQMESSAGES", nonce: n + 1, peer: peerNonce})
	return nil
}

func (sec *security) serverHandshake(conn *zmq4.Conn) error {
	longSecret := [KeySize]byte(sec.secret)

	// HELLO: C', and a box of zeros from C' to S.
	hello, err := recv(conn, zmq4.CmdHello)
	if err != nil {
		return err
	}
	if len(hello) != helloSize || hello[0] != 1 || hello[1] != 0 {
		return fmt.Errorf("%w: HELLO of %d bytes, version %v", ErrHandshake, len(hello), hello[:min(2, len(hello))])
	}
	var cpub [KeySize]byte
	copy(cpub[:], hello[74:106])
	peerNonce := binary.BigEndian.Uint64(hello[106:114])
	if _, ok := box.Open(nil, hello[114:], nonce("CurveZMQHELLO---", hello[106:114]), &cpub, &longSecret); !ok {
		return fmt.Errorf("%w: HELLO box does not open (client has the wrong server key?)", ErrHandshake)
	}

	// WELCOME: S' and a cookie [C' + s'] only we can open.
	spub, ssec, err := box.GenerateKey(sec.rand)
	if err != nil {
		return fmt.Errorf("security/curve: could not generate short-term key: %w", err)
	}
	var cookieKey [32]byte
	ck, err := sec.random(32)
	if err != nil {
		return err
	}
	copy(cookieKey[:], ck)
	cn, err := sec.random(16)
	if err != nil {
		return err
	}
	cookie := append([]byte{}, cn...)
	cookie = secretbox.Seal(cookie, append(append([]byte{}, cpub[:]...), ssec[:]...), nonce("COOKIE--", cn), &cookieKey)
	wn, err := sec.random(16)
	if err != nil {
		return err
	}
	welcome := append([]byte{}, wn...)
	welcome = box.Seal(welcome, append(append([]byte{}, spub[:]...), cookie...), nonce("WELCOME-", wn), &cpub, &longSecret)
	if err := conn.SendCmd(zmq4.CmdWelcome, welcome); err != nil {
		return fmt.Errorf("security/curve: could not send WELCOME: %w", err)
	}

	// INITIATE: our cookie back, C and its vouch, metadata.
	initiate, err := recv(conn, zmq4.CmdInitiate)
	if err != nil {
		return err
	}
	if len(initiate) < initiateMin {
		return fmt.Errorf("%w: INITIATE of %d bytes", ErrHandshake, len(initiate))
	}
	want := append(append([]byte{}, cpub[:]...), ssec[:]...)
	got, ok := secretbox.Open(nil, initiate[16:cookieSize], nonce("COOKIE--", initiate[:16]), &cookieKey)
	if !ok || subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("%w: INITIATE cookie is not ours", ErrHandshake)
	}
	in := initiate[cookieSize : cookieSize+8]
	if n := binary.BigEndian.Uint64(in); n <= peerNonce {
		return fmt.Errorf("%w: INITIATE nonce %d after %d", ErrHandshake, n, peerNonce)
	}
	peerNonce = binary.BigEndian.Uint64(in)
	var shared [32]byte
	box.Precompute(&shared, &cpub, ssec)
	plain, ok := box.OpenAfterPrecomputation(nil, initiate[cookieSize+8:], nonce("CurveZMQINITIATE", in), &shared)
	if !ok {
		return fmt.Errorf("%w: INITIATE box does not open", ErrHandshake)
	}
	var client PublicKey
	copy(client[:], plain[:32])
	clientKey := [KeySize]byte(client)
	vouch, ok := box.Open(nil, plain[48:128], nonce("VOUCH---", plain[32:48]), &clientKey, ssec)
	if !ok || subtle.ConstantTimeCompare(vouch[:32], cpub[:]) != 1 || subtle.ConstantTimeCompare(vouch[32:], sec.public[:]) != 1 {
		return fmt.Errorf("%w: INITIATE vouch does not hold for client key %s", ErrHandshake, client)
	}
	if sec.authorize != nil && !sec.authorize(client) {
		// As libzmq when ZAP answers 400; the client learns why.
		_ = conn.SendCmd(zmq4.CmdError, append([]byte{byte(len(statusDenied))}, statusDenied...))
		return fmt.Errorf("%w: %s", ErrDenied, client)
	}
	if err := conn.Peer.Meta.UnmarshalZMTP(plain[128:]); err != nil {
		return fmt.Errorf("security/curve: could not unmarshal peer metadata: %w", err)
	}

	// READY: our metadata.
	meta, err := conn.Meta.MarshalZMTP()
	if err != nil {
		return fmt.Errorf("security/curve: could not marshal metadata: %w", err)
	}
	var n uint64 = 1
	ready := append([]byte{}, short(n)...)
	ready = box.SealAfterPrecomputation(ready, meta, nonce("CurveZMQREADY---", short(n)), &shared)
	if err := conn.SendCmd(zmq4.CmdReady, ready); err != nil {
		return fmt.Errorf("security/curve: could not send READY: %w", err)
	}
	conn.SetFrameCodec(&codec{shared: shared, send: "CurveZMQMESSAGES", recv: "CurveZMQMESSAGEC", nonce: n + 1, peer: peerNonce, client: client})
	return nil
}

// codec boxes each frame after the handshake in a MESSAGE command:
// "\x07MESSAGE", the 8-byte nonce, box[flags + frame] between the
// short-term keys. Nonces only grow; a replayed or reordered MESSAGE is
// refused.
type codec struct {
	shared     [32]byte
	send, recv string // nonce prefixes
	nonce      uint64 // next to send
	peer       uint64 // last received
	client     PublicKey
}

func (c *codec) Encode(frame []byte, more, command bool) ([]byte, error) {
	if c.nonce == 0 {
		return nil, fmt.Errorf("%w: nonces exhausted", ErrMessage)
	}
	var flags byte
	if more {
		flags |= flagMore
	}
	if command {
		flags |= flagCommand
	}
	plain := make([]byte, 1+len(frame))
	plain[0] = flags
	copy(plain[1:], frame)
	n := short(c.nonce)
	c.nonce++
	wire := make([]byte, 0, 16+box.Overhead+len(plain))
	wire = append(wire, cmdMessage...)
	wire = append(wire, n...)
	return box.SealAfterPrecomputation(wire, plain, nonce(c.send, n), &c.shared), nil
}

func (c *codec) Decode(wire []byte) ([]byte, bool, bool, error) {
	if len(wire) < messageMin || string(wire[:8]) != cmdMessage {
		return nil, false, false, fmt.Errorf("%w: not a MESSAGE (%d bytes)", ErrMessage, len(wire))
	}
	n := binary.BigEndian.Uint64(wire[8:16])
	if n <= c.peer {
		return nil, false, false, fmt.Errorf("%w: nonce %d after %d", ErrMessage, n, c.peer)
	}
	plain, ok := box.OpenAfterPrecomputation(nil, wire[16:], nonce(c.recv, wire[8:16]), &c.shared)
	if !ok {
		return nil, false, false, fmt.Errorf("%w: box does not open", ErrMessage)
	}
	c.peer = n
	return plain[1:], plain[0]&flagMore != 0, plain[0]&flagCommand != 0, nil
}

var _ zmq4.Security = (*security)(nil)
