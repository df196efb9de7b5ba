// Package native holds the C ABI's header the Go SDK compiles against (graveyard.h, a copy of
// bindings/c/include/graveyard.h kept identical by bindings/c/tests/generated.rs: a module
// cannot include files outside itself). The libraries themselves are in the platform modules
// (sdk-go/native/<goos>_<goarch>). This file makes the folder a package so that
// `go mod vendor` keeps it.
package native
