// Package linux_amd64 carries GraveyardDB's C library for linux/amd64: the static archive
// libgraveyard_c.a, built from bindings/c and stripped of debug info by sdk-go/scripts/native.sh,
// and the flags that link it. The SDK (github.com/graveyard-db/graveyard/sdk-go) imports this
// package on linux/amd64; a release publishes it as its own module, so that a program
// downloads only the library of the platform it is built for.
package linux_amd64

// The archive, then the system libraries Rust's standard library needs
// (`rustc --print native-static-libs`).

/*
#cgo LDFLAGS: ${SRCDIR}/libgraveyard_c.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"
