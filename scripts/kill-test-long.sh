#!/usr/bin/env bash
# The long SIGKILL test (not in CI): the simulator runs as its own process with frame
# faults; the pipeline is killed with SIGKILL KILLS times (default 100) at random moments and
# restarted on the same data dir; afterwards stored trade ids must equal generated ids
# (0 missing, 0 duplicates) and every disconnect window must be no wider than
# kill-to-reconnect + 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."
export TICKFLOW_KILLS="${KILLS:-100}"
exec go test -tags integration -run 'Integration_KillRestart' -timeout 120m -v ./cmd/tickflow/
