// Package native holds what the Go SDK links: the C ABI's header (graveyard.h, a copy of
// bindings/c/include/graveyard.h kept identical by bindings/c/tests/generated.rs) and, in a
// folder per platform (linux_amd64, ...), the static library libgraveyard_c.a that
// sdk-go/scripts/native.sh builds from bindings/c. A published version carries the libraries
// (see sdk-go/README.md); a checkout gets them from that script. This file makes the folder a
// package so that `go mod vendor` keeps it.
package native
