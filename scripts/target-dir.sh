# Sourced by the project's scripts: sets `target` to Cargo's target directory as an absolute
# path, $CARGO_TARGET_DIR (relative to the repository's root when relative, as the SDKs' tests
# read it too) or target/ of the repository, and exports it as CARGO_TARGET_DIR so that every
# cargo, maturin, napi and Maven run below finds the same one from whatever directory it runs in.
#   source "$repo/scripts/target-dir.sh"     (with `repo` set to the repository's root)
target="${CARGO_TARGET_DIR:-target}"
[[ "$target" = /* ]] || target="$repo/$target"
export CARGO_TARGET_DIR="$target"
