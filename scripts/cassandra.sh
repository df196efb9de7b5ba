#!/usr/bin/env bash
# Apache Cassandra on loopback, as plain processes, for the CQL-backed commit log's tests and
# benchmarks (no Docker here).
#
#   scripts/cassandra.sh install                  fetch Cassandra's jars from Maven Central into
#                                                 the cache (once; quick when they are there)
#   scripts/cassandra.sh start DIR [NODES] [PORT] start NODES nodes (1 by default) on 127.0.0.1,
#                                                 127.0.0.2, ... with their data under DIR, CQL on
#                                                 PORT (9042 by default) of each address; returns
#                                                 once every node answers CQL
#   scripts/cassandra.sh kill DIR NODE            kill -9 node NODE (1-based) of DIR
#   scripts/cassandra.sh restart DIR NODE         start node NODE of DIR again, on its data
#   scripts/cassandra.sh stop DIR                 stop every node of DIR (no error if none runs)
#
# With CASSANDRA_TLS_PEM=FILE at start (a PEM file holding the nodes' private key, unencrypted,
# and certificate chain), clients must connect over TLS (client_encryption_options).
#
# The cache is $GRAVEYARD_CACHE/cassandra-VERSION ($GRAVEYARD_CACHE defaults to
# ~/.cache/graveyard). DIR must exist and be empty at start; removing it is the caller's job.
#
# Durability: every node runs with `commitlog_sync: batch`, so Cassandra acknowledges a write
# only once its own commit log is synced. With the default `periodic` mode a kill -9 of the node
# loses recently acknowledged writes (measured: 3 of 500 LWT writes), which a store promising
# "acknowledged means durable" cannot accept on a single node. See docs/cql.md.
set -euo pipefail

VERSION=5.0.6
CACHE=${GRAVEYARD_CACHE:-$HOME/.cache/graveyard}/cassandra-$VERSION
HEAP=${CASSANDRA_HEAP:-512M}

die() { echo "cassandra.sh: $*" >&2; exit 1; }

install() {
  [[ -f $CACHE/.complete ]] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Cassandra's jars"
  command -v java >/dev/null || die "Java 17 is needed to run Cassandra"
  echo "cassandra.sh: fetching cassandra-all $VERSION and its dependencies from Maven Central" >&2
  rm -rf "$CACHE.tmp"
  mkdir -p "$CACHE.tmp"
  cat >"$CACHE.tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.graveyard</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  (cd "$CACHE.tmp" && mvn -q -B -ntp dependency:copy-dependencies -DoutputDirectory=lib -DincludeScope=runtime) >&2 \
    || die "fetching the jars failed"
  ls "$CACHE.tmp"/lib/cassandra-all-*.jar >/dev/null 2>&1 || die "no cassandra-all jar was fetched"
  touch "$CACHE.tmp/.complete"
  rm -rf "$CACHE"
  mv "$CACHE.tmp" "$CACHE"
}

# The flags of Cassandra's own conf/jvm17-server.options that it needs to start on Java 17.
JAVA_FLAGS=(
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.base/jdk.internal.ref=ALL-UNNAMED
  --add-exports java.base/sun.nio.ch=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.nio=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  --add-opens java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens java.base/java.net=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  # How long a starting node waits to hear the ring and its schema before it picks tokens (30 s
  # by default, as much as the rest of the start): these rings live on loopback, where a node
  # hears its seeds in gossip's shadow round before the wait, and start one node after another.
  # Not shorter: Cassandra derives gossip's quarantine (2x) and its eviction of a node that has
  # no tokens yet (1x) from it, and a joining node must not be evicted on a busy 2-core machine.
  -Dcassandra.ring_delay_ms="${CASSANDRA_RING_DELAY_MS:-5000}"
)

# Connecting and closing at once: Cassandra takes it for a client that left (a byte sent would
# be logged as a protocol error).
answers() { (: >"/dev/tcp/$1/$2") 2>/dev/null; }

node_dir() { echo "$1/node$2"; }

configure() {
  local dir=$1 node=$2 nodes=$3 port=$4
  local home address seeds
  home=$(node_dir "$dir" "$node")
  address=127.0.0.$node
  seeds=127.0.0.1
  mkdir -p "$home/data" "$home/commitlog" "$home/saved_caches" "$home/hints" "$home/cdc_raw"
  # One token range per node and no vnodes to balance: a test ring of 1 to 3 nodes.
  cat >"$home/cassandra.yaml" <<EOF
cluster_name: graveyard-test
num_tokens: 16
allocate_tokens_for_local_replication_factor: $nodes
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$seeds:$((port + 1))"
listen_address: $address
rpc_address: $address
storage_port: $((port + 1))
native_transport_port: $port
endpoint_snitch: SimpleSnitch
commitlog_sync: batch
# Paxos v2 (Cassandra 4.1+): lightweight transactions in fewer round trips, and reads at the
# serial level that complete a round left in progress without a write of their own.
paxos_variant: v2
auto_snapshot: false
# Room for the prepared statements of many keyspaces (a test run makes one per scenario): with
# the default (10 MiB at this heap) Cassandra evicted statements the driver had just prepared
# again, and a node's open failed reading its log.
prepared_statements_cache_size: 64MiB
# A ring started here is new and empty: a joining node has nothing to stream, so it joins at
# once instead of bootstrapping (which waits 30 s of ring delay per node).
auto_bootstrap: false
data_file_directories:
  - $home/data
commitlog_directory: $home/commitlog
saved_caches_directory: $home/saved_caches
hints_directory: $home/hints
cdc_raw_directory: $home/cdc_raw
EOF
  if [[ -n ${CASSANDRA_TLS_PEM:-} ]]; then
    [[ -f $CASSANDRA_TLS_PEM ]] || die "CASSANDRA_TLS_PEM: no file $CASSANDRA_TLS_PEM"
    cat >>"$home/cassandra.yaml" <<EOF
client_encryption_options:
  enabled: true
  optional: false
  ssl_context_factory:
    class_name: org.apache.cassandra.security.PEMBasedSslContextFactory
  keystore: $(cd "$(dirname "$CASSANDRA_TLS_PEM")" && pwd)/$(basename "$CASSANDRA_TLS_PEM")
EOF
  fi
  cat >"$home/logback.xml" <<EOF
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$home/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
EOF
}

launch() {
  local dir=$1 node=$2 port=$3
  local home address pid
  home=$(node_dir "$dir" "$node")
  address=127.0.0.$node
  [[ -f $home/cassandra.yaml ]] || die "node $node of $dir was never configured"
  if [[ -f $home/pid ]] && kill -0 "$(cat "$home/pid")" 2>/dev/null; then
    die "node $node of $dir is running already (pid $(cat "$home/pid"))"
  fi
  answers "$address" "$port" && die "something already answers on $address:$port"
  # setsid: the node outlives this script and a Ctrl-C of the caller's terminal.
  setsid java -Xms"$HEAP" -Xmx"$HEAP" "${JAVA_FLAGS[@]}" \
    -Dcassandra.config="file://$home/cassandra.yaml" \
    -Dcassandra-foreground=yes \
    -Dcassandra.storagedir="$home" \
    -Dcassandra.jmx.local.port=$((port + 10 + node)) \
    -Dlogback.configurationFile="$home/logback.xml" \
    -cp "$CACHE/lib/*" org.apache.cassandra.service.CassandraDaemon \
    >"$home/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$home/pid"
  local waited=0
  until answers "$address" "$port"; do
    kill -0 "$pid" 2>/dev/null || die "node $node exited during start: $(tail -n 5 "$home/system.log" "$home/stdout.log" 2>/dev/null)"
    ((waited++ < 1200)) || { kill -9 "$pid"; die "node $node did not answer CQL on $address:$port within 120 s"; }
    sleep 0.1
  done
  echo "cassandra.sh: node $node (pid $pid) answers CQL on $address:$port" >&2
}

start() {
  local dir=$1 nodes=${2:-1} port=${3:-9042}
  [[ -d $dir ]] || die "no directory $dir"
  [[ -z $(ls -A "$dir") ]] || die "$dir is not empty: start wants a fresh directory"
  [[ $nodes =~ ^[1-9]$ ]] || die "bad node count '$nodes' (1 to 9)"
  [[ $port =~ ^[0-9]+$ ]] || die "bad port '$port'"
  install
  dir=$(cd "$dir" && pwd)
  echo "$port" >"$dir/port"
  # One after another: a node joining the ring must see the ones before it up.
  for ((node = 1; node <= nodes; node++)); do
    configure "$dir" "$node" "$nodes" "$port"
    launch "$dir" "$node" "$port"
  done
}

signal() {
  local dir=$1 node=$2 sig=$3
  local pidfile
  pidfile=$(node_dir "$dir" "$node")/pid
  [[ -f $pidfile ]] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
}

stop() {
  local dir=$1
  [[ -d $dir ]] || return 0
  for home in "$dir"/node*; do
    [[ -d $home ]] || continue
    signal "$dir" "${home##*/node}" TERM
  done
}

case ${1:-} in
  install) install ;;
  start) [[ $# -ge 2 ]] || die "usage: $0 start DIR [NODES] [PORT]"; start "$2" "${3:-1}" "${4:-9042}" ;;
  kill) [[ $# -ge 3 ]] || die "usage: $0 kill DIR NODE"; signal "$2" "$3" KILL ;;
  restart)
    [[ $# -ge 3 ]] || die "usage: $0 restart DIR NODE"
    [[ -f $2/port ]] || die "$2 holds no Cassandra started by this script"
    install
    launch "$(cd "$2" && pwd)" "$3" "$(cat "$2/port")"
    ;;
  stop) [[ $# -ge 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 install | start DIR [NODES] [PORT] | kill DIR NODE | restart DIR NODE | stop DIR" ;;
esac
