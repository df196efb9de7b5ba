#!/usr/bin/env bash
# Proves the Go SDK as a user gets it: a module proxy laid out as a published version would be
# (github.com/graveyard-db/graveyard/sdk-go@v0.1.0 and its platform module
# .../sdk-go/native/linux_amd64@v0.1.0 with the static library inside, as a release commits it), an empty module outside the repository that `go get`s it through that proxy, a
# build with only Go and a C compiler (and its assembler and linker) on the PATH, and a run
# against an embedded store and a real node.
set -euo pipefail
sdk="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$sdk/.." && pwd)"
source "$repo/scripts/target-dir.sh"
version=v0.1.0
module=github.com/graveyard-db/graveyard/sdk-go
work="$(mktemp -d)"
node_pid=""
cleanup() {
  [[ -n "$node_pid" ]] && kill "$node_pid" 2>/dev/null || true
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

bash "$sdk/scripts/native.sh" >/dev/null
echo "user-test: a module proxy with $module@$version and its platform module in $work/proxy"
python3 - "$sdk" "$work/proxy" "$module" "$version" <<'PY'
import os, sys, zipfile, json, datetime
sdk, proxy, module, version = sys.argv[1:]

def publish(root, path, skip):
    """Lays out module `path` from folder `root` as a module proxy serves a published version."""
    d = os.path.join(proxy, path, "@v")
    os.makedirs(d)
    prefix = f"{path}@{version}/"
    with zipfile.ZipFile(os.path.join(d, version + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for here, dirs, files in os.walk(root):
            rel_dir = os.path.relpath(here, root)
            dirs[:] = sorted(x for x in dirs if not x.startswith(".")
                             and not skip(os.path.normpath(os.path.join(rel_dir, x))))
            for f in sorted(files):
                if f.startswith("."):
                    continue
                rel = os.path.normpath(os.path.join(rel_dir, f))
                z.write(os.path.join(here, f), prefix + rel)
    mod = open(os.path.join(root, "go.mod")).read()
    # What a release publishes: no replace of the platform module by a folder.
    mod = "".join(l for l in mod.splitlines(True) if not l.startswith("replace ") and not l.startswith("//"))
    with open(os.path.join(d, version + ".mod"), "w") as g:
        g.write(mod)
    with open(os.path.join(d, version + ".info"), "w") as f:
        json.dump({"Version": version, "Time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}, f)
    with open(os.path.join(d, "list"), "w") as f:
        f.write(version + "\n")

# The SDK: its sources and header; the platform modules (native/) and the scripts' test data are
# not part of it.
publish(sdk, module, lambda rel: rel == "native" or rel.startswith("scripts/testdata"))
# The platform module, the static library inside, as a release commits it.
publish(os.path.join(sdk, "native", "linux_amd64"), module + "/native/linux_amd64", lambda rel: False)
PY

# Only Go and the C toolchain on the PATH.
mkdir -p "$work/bin"
for tool in go gcc cc as ld; do
  ln -s "$(command -v "$tool")" "$work/bin/$tool"
done
# The Go toolchain's own directory holds go's helpers (gofmt is not needed).
goroot="$(go env GOROOT)"
mkdir -p "$work/home" "$work/app"
cp "$sdk/scripts/testdata/userapp/main.go" "$work/app/main.go"
run_go() {
  (cd "$work/app" && env -i PATH="$work/bin" HOME="$work/home" GOROOT="$goroot" GOTOOLCHAIN=local \
    GOPROXY="file://$work/proxy" GOSUMDB=off GOFLAGS=-mod=mod GOMODCACHE="$work/modcache" \
    GOCACHE="$(go env GOCACHE)" CGO_ENABLED=1 go "$@")
}
echo "user-test: go mod init; go get $module@$version; go build (PATH=$work/bin)"
run_go mod init example.com/app >/dev/null 2>&1
run_go get "$module@$version"
run_go build -o app .

echo "user-test: the program on an embedded store"
"$work/app/app" embedded "$work/store"

if [[ -x "$target/release/graveyard" ]]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$target/release/graveyard" serve --listen "127.0.0.1:$port" --data "$work/node" >"$work/node.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  echo "user-test: the program against a real node on 127.0.0.1:$port"
  "$work/app/app" node "http://127.0.0.1:$port"
else
  echo "user-test: SKIPPED the node run: $target/release/graveyard is not built"
fi
echo "user-test: passed"
