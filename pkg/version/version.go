// Package version holds the build's version string so that every binary and
// the REST API report the same value. The Makefile sets it from git describe:
//
//	go build -ldflags "-X github.com/schedulezero/schedulezero/pkg/version.Version=v1.2.3"
package version

// Version is the version of this build; "dev" when built without -ldflags.
// It is a var only so that the linker can set it; nothing assigns it at run time.
var Version = "dev"
