#!/usr/bin/env bash
# deploy/ci/chdb.sh {install|status}
#
# PyPI's chdb (the current ClickHouse engine, in-process) for python3: the integration test
# TestIntegrationModernDDLWithChdb (sink/clickhouse) runs the modern-dialect DDL on it,
# because the only server obtainable here (Debian's 18.16) cannot. Idempotent.
#
# Environment: TICKFLOW_CHDB_VERSION [4.4.0], PYTHON [python3].
set -euo pipefail

VERSION=${TICKFLOW_CHDB_VERSION:-4.4.0}
PY=${PYTHON:-python3}

log() { echo "chdb: $*" >&2; }

installed() {
	"$PY" -c 'import chdb, sys; sys.stdout.write(chdb.__version__)' 2>/dev/null
}

case ${1:-} in
install)
	if v=$(installed) && [[ $v == "$VERSION" ]]; then
		log "installed: chdb $v ($("$PY" --version 2>&1))"
		exit 0
	fi
	log "installing chdb $VERSION with pip"
	"$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
		"chdb==$VERSION"
	log "installed: chdb $(installed), engine $("$PY" -c 'import chdb; print(chdb.query("SELECT version()", "CSV").bytes().decode().strip())')"
	;;
status)
	if v=$(installed); then
		log "installed: chdb $v"
	else
		log "not installed"
		exit 1
	fi
	;;
*)
	echo "usage: $0 {install|status}" >&2
	exit 2
	;;
esac
