//go:build !graveyard_system && !(linux && amd64)

package graveyard

// No platform module carries the library for this GOOS/GOARCH yet: build with
// -tags graveyard_system and a libgraveyard_c built from bindings/c (sdk-go/README.md).
var _ = no_static_graveyard_library_for_this_platform__build_with_tags_graveyard_system
