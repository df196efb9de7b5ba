//go:build !graveyard_system && linux && amd64

package graveyard

// The default: the static library of the platform module (native/linux_amd64, a module of its
// own), so that `go get` and a C compiler are all a user needs. cgo resolves this package's C
// calls against the archive that package links.

/*
#cgo CFLAGS: -I${SRCDIR}/internal/native
*/
import "C"

import _ "github.com/graveyard-db/graveyard/sdk-go/native/linux_amd64"
