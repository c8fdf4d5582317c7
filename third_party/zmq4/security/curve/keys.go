// Copyright 2018 The go-zeromq Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package curve

import (
	"crypto/rand"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// KeySize is the size of a CURVE key in bytes; its Z85 text is 40 characters.
const KeySize = 32

// PublicKey is a long-term Curve25519 public key.
type PublicKey [KeySize]byte

// SecretKey is a long-term Curve25519 secret key.
type SecretKey [KeySize]byte

// String returns the key in Z85, as zmq_curve_keypair writes it.
func (k PublicKey) String() string { s, _ := Z85Encode(k[:]); return s }

// Z85 returns the key in Z85. SecretKey has no String method so that a
// key printed by mistake (%v, a log line) does not show.
func (k SecretKey) Z85() string { s, _ := Z85Encode(k[:]); return s }

// Public returns the public key of k, as zmq_curve_public.
func (k SecretKey) Public() PublicKey {
	var pub PublicKey
	p, _ := curve25519.X25519(k[:], curve25519.Basepoint)
	copy(pub[:], p)
	return pub
}

// GenerateKeyPair returns a new key pair, as zmq_curve_keypair; rnd nil is
// crypto/rand.
func GenerateKeyPair(rnd io.Reader) (PublicKey, SecretKey, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	pub, sec, err := box.GenerateKey(rnd)
	if err != nil {
		return PublicKey{}, SecretKey{}, fmt.Errorf("security/curve: could not generate key pair: %w", err)
	}
	return PublicKey(*pub), SecretKey(*sec), nil
}

// ParseKey decodes a key from its 40 characters of Z85 (surrounding white
// space ignored, as in a key file).
func ParseKey(text string) ([KeySize]byte, error) {
	var k [KeySize]byte
	text = strings.TrimSpace(text)
	if len(text) != 40 {
		return k, fmt.Errorf("%w: a CURVE key is 40 characters of Z85, got %d", ErrZ85, len(text))
	}
	b, err := Z85Decode(text)
	if err != nil {
		return k, err
	}
	copy(k[:], b)
	return k, nil
}
