package wire

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Job tokens authenticate the job channel (protocol 4). The handler makes
// one with NewJobToken and sends it in its register request, which its
// registration secret (when it has one) guards; the scheduler puts it in
// every request it sends on that handler's job socket (Request.JobToken,
// see WithJobToken), and the handler refuses a job request without it
// (JobTokenMatches). Plain pings need no token: they run nothing, and the
// governor, which has none, checks handlers with them.
const (
	// jobTokenBytes is the token's randomness: 128 bits.
	jobTokenBytes = 16
	// minJobTokenLen and maxJobTokenLen bound what a register request may
	// carry as params.job_token.
	minJobTokenLen = 2 * jobTokenBytes
	maxJobTokenLen = 256
)

// NewJobToken returns a fresh random job token (128 bits, hex).
func NewJobToken() string {
	var b [jobTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (it panics first)
	return hex.EncodeToString(b[:])
}

// JobTokenMatches reports whether got is the token want, in time that does
// not depend on where they differ. An empty want matches nothing.
func JobTokenMatches(got, want string) bool {
	if want == "" || len(got) != len(want) {
		return false // the length is not secret: every token has the same
	}
	var diff byte
	for i := 0; i < len(want); i++ {
		diff |= got[i] ^ want[i]
	}
	return diff == 0
}

// checkJobToken validates params.job_token of a register request.
func checkJobToken(token string) error {
	if token == "" {
		return nil
	}
	if len(token) < minJobTokenLen || len(token) > maxJobTokenLen {
		return fmt.Errorf("params.job_token: has %d characters; send %d to %d (wire.NewJobToken makes one)", len(token), minJobTokenLen, maxJobTokenLen)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("params.job_token: holds the byte %#x; send printable ASCII (wire.NewJobToken makes one)", c)
		}
	}
	return nil
}
