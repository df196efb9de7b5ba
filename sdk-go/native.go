package graveyard

/*
#include <stdlib.h>
#include "graveyard.h"

*/
import "C"

import (
	"context"
	"fmt"
	"math"
	"unsafe"
)

// abiError is set when the linked library speaks another ABI than the header this package was
// compiled with (a stale system library): every entry point returns it instead of calling in.
var abiError error

func init() {
	if got, want := uint32(C.gy_abi_version()), uint32(C.GY_ABI_VERSION); got != want {
		abiError = fmt.Errorf("graveyard: the linked libgraveyard_c speaks ABI version %d, this package needs %d: "+
			"rebuild or reinstall the library that matches this version of the SDK", got, want)
	}
}

// clampInt64 takes a uint64 count or position to the int64 the C ABI carries. A value past
// int64 is clamped rather than wrapped to a negative (which the ABI reads as unset): the core
// then refuses it as past its bound, or finds nothing there.
func clampInt64(n uint64) int64 {
	return int64(min(n, math.MaxInt64))
}

// optionalCount passes a count where Go's zero value asks for the core's default: the C ABI
// takes an unset number as -1.
func optionalCount(n uint64) C.int64_t {
	if n == 0 {
		return -1
	}
	return C.int64_t(clampInt64(n))
}

// Version is the version of the linked GraveyardDB library.
func Version() string {
	return C.GoString(C.gy_version())
}

// cStr passes a Go string to C without copying: C only reads it during the call.
func cStr(s string) (*C.uint8_t, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// cOptStr is cStr for an optional argument: an empty string passes a null pointer (none).
func cOptStr(s string) (*C.uint8_t, C.size_t) {
	return cStr(s)
}

// cBytes passes a Go slice to C without copying.
func cBytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

// call is one call into the library: the C ABI's cancel token for ctx (0 when ctx can never be
// cancelled, so that a Background call costs nothing extra) and the conversion of its status.
type call struct {
	ctx   context.Context
	token C.gy_handle
	stop  func() bool
	// err is an allocation of its own, free of Go pointers: cgo's check of a pointer argument
	// looks at the whole allocation it points into, and this struct holds ctx and stop.
	err *C.gy_error
}

// begin prepares a call under ctx: an already cancelled ctx fails before anything is done; a
// cancellable one gets a token that is pulled (waking the native call) when ctx is done.
func begin(ctx context.Context) (*call, error) {
	if abiError != nil {
		return nil, abiError
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &call{ctx: ctx, err: new(C.gy_error)}
	if ctx.Done() != nil {
		if status := C.gy_cancel_new(&c.token, c.err); status != 0 {
			return nil, c.status(status)
		}
		token := c.token
		c.stop = context.AfterFunc(ctx, func() { C.gy_cancel_pull(token, nil) })
	}
	return c, nil
}

// end releases the call's token. The AfterFunc may be pulling it right now: pulling a freed
// token is harmless (CLOSED, ignored).
func (c *call) end() {
	if c.token != 0 {
		c.stop()
		C.gy_cancel_free(c.token)
	}
}

// status turns a status into an error: nil for success, ctx's error for a cancelled call, an
// *Error (with the library's message and details, whose strings are then freed) for a code.
func (c *call) status(status C.int32_t) error {
	switch status {
	case C.GY_OK:
		return nil
	case C.GY_CANCELLED:
		if err := c.ctx.Err(); err != nil {
			return err
		}
		return context.Canceled
	case C.GY_TIMEOUT:
		return errTimeout
	case C.GY_ENDED:
		return errEnded
	}
	e := newError(Code(status), C.GoString(c.err.message), C.GoString(c.err.details))
	C.gy_error_free(c.err)
	return e
}

// take copies a buffer the library handed out into Go memory, then frees it.
func take(buf *C.gy_buf) []byte {
	if buf.len == 0 {
		return nil
	}
	out := C.GoBytes(unsafe.Pointer(buf.data), C.int(buf.len))
	C.gy_buf_free(buf)
	return out
}
