#!/usr/bin/env bash
# Two local ClickHouse servers for the ClickHouse tests and bench/clickhouse_reads.py
# (docs/operations.md, "Running with ClickHouse"): native ports 19000 and 19001, each with its
# own config, data and log directories under $CLICKHOUSE_LOCAL_DIR (default /tmp/tally-clickhouse),
# and a cluster `tally_two_shards` (one shard per server) for the Distributed table.
#
#   scripts/clickhouse_local.sh start   # starts both (no-op for a server already answering)
#   scripts/clickhouse_local.sh stop    # stops the servers this script started
set -euo pipefail
DIR="${CLICKHOUSE_LOCAL_DIR:-/tmp/tally-clickhouse}"
PORTS=(19000 19001)
SERVER="$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)"  # /usr/sbin: not in every PATH

config() {  # $1: index (0, 1)
  local port=${PORTS[$1]} home="$DIR/server$1"
  mkdir -p "$home/data" "$home/tmp" "$home/log" "$home/user_files" "$home/format_schemas"
  cp /etc/clickhouse-server/users.xml "$home/users.xml"
  cat > "$home/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$home/log/server.log</log>
    <errorlog>$home/log/server.err.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$port</tcp_port>
  <http_port>$((port - 900))</http_port>
  <interserver_http_port>$((port + 9))</interserver_http_port>
  <path>$home/data/</path>
  <tmp_path>$home/tmp/</tmp_path>
  <user_files_path>$home/user_files/</user_files_path>
  <format_schema_path>$home/format_schemas/</format_schema_path>
  <users_config>$home/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <remote_servers>
    <tally_two_shards>
      <shard><replica><host>127.0.0.1</host><port>${PORTS[0]}</port></replica></shard>
      <shard><replica><host>127.0.0.1</host><port>${PORTS[1]}</port></replica></shard>
    </tally_two_shards>
  </remote_servers>
</yandex>
XML
}

answering() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  for i in 0 1; do
    if answering "${PORTS[$i]}"; then echo "ClickHouse already answers on ${PORTS[$i]}"; continue; fi
    config "$i"
    "$SERVER" --config-file="$DIR/server$i/config.xml" --daemon --pid-file="$DIR/server$i/pid"
  done
  for i in 0 1; do
    for _ in $(seq 1 60); do answering "${PORTS[$i]}" && break; sleep 0.5; done
    answering "${PORTS[$i]}" || { echo "ClickHouse did not start on ${PORTS[$i]}:"; \
      tail -n 20 "$DIR/server$i/log/server.err.log" 2>/dev/null; exit 1; }
    echo "ClickHouse on 127.0.0.1:${PORTS[$i]} (data in $DIR/server$i)"
  done
}

stop() {
  for i in 0 1; do
    pidfile="$DIR/server$i/pid"
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop"; exit 2 ;;
esac
