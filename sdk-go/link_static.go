//go:build !graveyard_system

package graveyard

// The default: the static library inside the module, one per platform, so that `go get` and a
// C compiler are all a user needs. The flags after the archive are the system libraries the
// Rust standard library needs (`rustc --print native-static-libs`).

/*
#cgo CFLAGS: -I${SRCDIR}/internal/native
#cgo linux,amd64 LDFLAGS: ${SRCDIR}/internal/native/linux_amd64/libgraveyard_c.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"
