# shellcheck shell=bash
# bench/delay_proxy.py, started and stopped by PID, for the scenarios that put a network's distance in front of the
# stand-in: latency.sh's (e)-(g) (and realistic.sh's (i), which reuses them) and helper.sh's (j). Sourced by those
# files; it uses bench/run's PY, ROOT and wait_for.

delay_proxy_stop() { # PID_VARIABLE: stops the proxy whose PID the variable holds, and empties it
  local pid=${!1}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  printf -v "$1" '%s' ""
}

delay_proxy_start() { # PID_VARIABLE NAME RTT_MS CERT LOG ERR ROUTE...: (re)starts a proxy, waits until it listens
  local var=$1 name=$2 rtt=$3 cert=$4 log=$5 err=$6
  shift 6
  delay_proxy_stop "$var"
  rm -f "$log.ready"
  "$PY" "$ROOT/bench/delay_proxy.py" --one-way-ms "$(awk -v r="$rtt" 'BEGIN { print r / 2 }')" --log "$log" \
    --ready "$log.ready" --tls-cert "$cert" "$@" < /dev/null > /dev/null 2>> "$err" &
  printf -v "$var" '%s' "$!"
  wait_for "$name" 20 test -f "$log.ready"
}
