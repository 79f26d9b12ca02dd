# shellcheck shell=bash
# bench/delay_proxy.py, started and stopped by PID, and the certificate it ends the API's TLS with, for the scenarios
# that put a network's distance in front of the stand-in: latency.sh's (e)-(g) (and realistic.sh's (i), which reuses them) and helper.sh's (j). Sourced by those
# files; it uses bench/run's PY, ROOT and wait_for.

api_certificate() { # DIR NAME CA_CN: a throwaway CA (DIR/ca.crt) and a server certificate for NAME (DIR/api.pem,
  # certificate and key), for the proxy to end TLS under the real API host name
  mkdir -p "$1"
  (cd "$1" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$3" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -keyout ca.key -out ca.crt &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" -keyout api.key -out api.csr &&
    printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$2" > api.ext &&
    openssl x509 -req -in api.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile api.ext -out api.crt &&
    cat api.crt api.key > api.pem) > /dev/null 2>&1
}

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
