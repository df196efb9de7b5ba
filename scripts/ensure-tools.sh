#!/usr/bin/env bash
# Checks (and where it can, installs) what the build needs. Safe to run again and again.
set -euo pipefail
need() { command -v "$1" >/dev/null 2>&1 || { echo "missing: $1 ($2)" >&2; exit 1; }; }
need cargo "Rust via rustup: https://rustup.rs"
need cc "a C compiler, for LMDB and SQLite (Debian: apt-get install build-essential)"
need go "Go 1.21 or newer, for sdk-go (Debian: apt-get install golang-go; go fetches the 1.23+ toolchain go.mod asks for through the module proxy)"
need objcopy "GNU binutils, to strip the native library packed in the Java SDK's jar (Debian: apt-get install binutils)"
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

# The Java SDK: a JDK 17+ and Maven, from Debian's packages when missing (as root).
java_ok() {
  command -v mvn >/dev/null 2>&1 && command -v javac >/dev/null 2>&1 \
    && [[ $(javac -version 2>&1 | sed -E 's/^javac ([0-9]+).*/\1/') -ge 17 ]]
}
if ! java_ok; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "ensure-tools: installing a JDK 17 and Maven with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless maven
  fi
  java_ok || { echo "missing: a JDK 17+ and Maven, for sdk-java (Debian: apt-get install openjdk-17-jdk-headless maven)" >&2; exit 1; }
fi
cargo --version
javac -version
mvn -B -v 2>&1 | sed -n 1p
go version

# Apache Cassandra's jars for the tests of the Cassandra-backed commit log (cql/, server/tests/
# cql.rs), from Maven Central into a cache folder; nothing to do when they are there.
bash "$(dirname "$0")/cassandra.sh" install
