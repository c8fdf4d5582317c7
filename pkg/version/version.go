// Package version holds the build's version string so that every binary and
// the REST API report the same value. The Makefile sets it to the release
// (the VERSION file, or the release tag: packaging/version.sh) and Commit
// to the git commit it was built from:
//
//	go build -ldflags "-X github.com/schedulezero/schedulezero/pkg/version.Version=v1.2.3"
package version

// Version is the version of this build; "dev" when built without -ldflags.
// It is a var only so that the linker can set it; nothing assigns it at run time.
var Version = "dev"

// Commit is the git commit of this build ("" when unknown), build
// information shown next to Version.
var Commit = ""

// String is the version for people: "0.1.0 (commit 0123456789ab)".
func String() string {
	if Commit == "" {
		return Version
	}
	return Version + " (commit " + Commit + ")"
}
