# Shared by e2e/cluster.sh and e2e/node.sh (sourced): components started in
# a session of their own with a PID file, waits with an upper bound, stops
# by PID. The caller sets WHO (its log prefix), LOGS, PIDS, READY_TIMEOUT.

say() { printf '[%s %s] %s\n' "$WHO" "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "ERROR: $*"; say "component logs: $LOGS"; exit 1; }

running() { [ -f "$PIDS/$1" ] && kill -0 "$(cat "$PIDS/$1")" 2>/dev/null; }

start() { # name command...
  local name=$1; shift
  running "$name" && return
  setsid "$@" >"$LOGS/$LOG_PREFIX$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name"
}

wait_for() { # description command...
  local what=$1; shift
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what not ready after ${READY_TIMEOUT}s"
    sleep 0.5
  done
  say "$what ready"
}

# SIGTERM to the component's session, SIGKILL after 10 s.
stop_pid() { # name
  [ -f "$PIDS/$1" ] || return 0
  local pid; pid=$(cat "$PIDS/$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    say "stopped $1 ($pid)"
  fi
  rm -f "$PIDS/$1"
}
