# Shared by the service scripts (sourced, not run). The caller defines log(), PIDFILE and
# PROC_MATCH (a string the server's /proc/<pid>/cmdline contains).

# running_pid prints the pid of our running server, or fails.
running_pid() {
	[[ -f $PIDFILE ]] || return 1
	local pid
	pid=$(cat "$PIDFILE")
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
	# The pid must still be our server (pids are reused).
	grep -q "$PROC_MATCH" "/proc/$pid/cmdline" 2>/dev/null || return 1
	echo "$pid"
}

# stop ends the server: SIGTERM, then SIGKILL after 30 s.
stop() {
	local pid
	if ! pid=$(running_pid); then
		log "not running"
		rm -f "$PIDFILE"
		return
	fi
	kill -TERM "$pid"
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "still running after 30s: SIGKILL"
		kill -KILL "$pid" || true
	fi
	rm -f "$PIDFILE"
	log "stopped (pid $pid)"
}
