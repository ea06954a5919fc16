#!/usr/bin/env bash
# deploy/ci/services.sh {up|down|status|env}
#
# The real servers of tickflow's integration tier, on loopback: ClickHouse (clickhouse.sh) and
# Kafka in KRaft mode (kafka.sh), plus chdb (chdb.sh, the current ClickHouse engine in-process,
# for the modern DDL). `up` installs what is missing and starts both servers, printing how
# long each step took; `down` stops both. Safe to run any number of times. `env` prints the
# variables the integration tests read:
#
#	eval "$(deploy/ci/services.sh env)"   # TICKFLOW_CLICKHOUSE=..., TICKFLOW_KAFKA=...
#
# Settings are the two scripts' environment variables (TICKFLOW_CI_DIR, ports, heap).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)

step() {
	local t0=$SECONDS
	"$@"
	echo "services: $(basename "$1") $2: $((SECONDS - t0))s" >&2
}

case ${1:-} in
up)
	t0=$SECONDS
	step "$HERE/clickhouse.sh" install
	step "$HERE/kafka.sh" install
	step "$HERE/chdb.sh" install
	# ClickHouse first: it is ready in about a second, then Kafka's JVM has both cores.
	step "$HERE/clickhouse.sh" start
	step "$HERE/kafka.sh" start
	echo "services: up in $((SECONDS - t0))s" >&2
	;;
down)
	"$HERE/kafka.sh" stop
	"$HERE/clickhouse.sh" stop
	;;
status)
	rc=0
	"$HERE/clickhouse.sh" status || rc=1
	"$HERE/kafka.sh" status || rc=1
	exit $rc
	;;
env)
	echo "export $("$HERE/clickhouse.sh" env)"
	echo "export $("$HERE/kafka.sh" env)"
	;;
*)
	echo "usage: $0 {up|down|status|env}" >&2
	exit 2
	;;
esac
