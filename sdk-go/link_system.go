//go:build graveyard_system

package graveyard

// With the build tag graveyard_system: a libgraveyard_c installed on the system (found by the
// linker's search path, or CGO_LDFLAGS=-L<dir>), for platforms without a library in the module.
// The library's ABI version is checked when the package loads.

/*
#cgo CFLAGS: -I${SRCDIR}/internal/native
#cgo LDFLAGS: -lgraveyard_c
*/
import "C"
