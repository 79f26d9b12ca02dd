# bench/helper.sh: row (j) of bench/run, ecr-ship as a docker credential helper against Debian's
# amazon-ecr-credential-helper (`docker-credential-ecr-login`). Sourced by bench/run (alone with BENCH_ONLY=helper);
# uses its stand-in and record functions and bench/delay_proxy.py, and stops what it starts by PID.
#
#   (j) `get` for the stand-in's private registry host, as docker calls it (the host on stdin, the JSON answer on
#       stdout): cold (empty token cache: credentials, GetAuthorizationToken, the cache written) and warm (the token
#       cached), at each RTT of BENCH_RTTS_MS; and the "no credentials" answer with no AWS variables and no ~/.aws,
#       twice: in a network namespace with only lo up (instance metadata unreachable, as on a host whose route to it
#       fails at once) and with instance metadata pointed at a loopback port that accepts and never answers (the
#       stall of awslabs/amazon-ecr-credential-helper #137 and #351).
#
# docker-credential-ecr-login 0.6.0 (aws-sdk-go-v2 1.17) has no endpoint override: it reaches the ECR API only as
# https://api.ecr.REGION.amazonaws.com. So both tools run inside a mount namespace whose /etc/hosts maps that name to
# the delay proxy, which ends TLS under it with a certificate of a CA made here (SSL_CERT_FILE for both: Go and
# ecr-ship read it) and forwards to the stand-in's API. ecr-ship gets the same URL through AWS_ENDPOINT_URL_ECR, so
# both take the same path. Nothing reaches the real instance metadata address: the cold and warm runs have static
# keys, AWS_EC2_METADATA_DISABLED=true and the metadata endpoint on a closed loopback port; the first no-credentials
# variant has no route to anything but lo, the second an endpoint on loopback.

J_RUNS=${BENCH_HELPER_RUNS:-5}
declare -A J_LOOP_MS
# The silent-metadata variant waits out the other tool's whole metadata timeout per run: fewer runs by default.
J_SILENT_RUNS=${BENCH_HELPER_SILENT_RUNS:-3}
read -r -a J_RTTS <<< "${BENCH_RTTS_MS:-0 40}"
setup_commands docker-credential-ecr-login ip
J_THEIRS_VERSION="$(dpkg-query -W -f '${Version}' amazon-ecr-credential-helper 2>/dev/null || echo unknown)"
J_API_NAME=api.ecr.us-east-1.amazonaws.com
source "$ROOT/bench/proxy.sh"
api_certificate "$T/j-ca" "$J_API_NAME" bench-helper-ca || die "openssl could not make the API's certificate for (j)"
J_IP=$("$PY" "$LIB" free-ip)
printf '127.0.0.1 localhost\n%s %s\n' "$J_IP" "$J_API_NAME" > "$T/hosts-j"
J_CLOSED_PORT=$("$PY" "$LIB" free-port) # nothing listens there: bound by free-port, then closed
J_ENV=(env -i "PATH=$PATH" "HOME=$T/j-home" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$J_CLOSED_PORT"
  "AWS_ENDPOINT_URL_ECR=https://$J_API_NAME" "SSL_CERT_FILE=$T/j-ca/ca.crt"
  "XDG_CACHE_HOME=$T/j-cache-ship" "AWS_ECR_CACHE_DIR=$T/j-cache-theirs")
mkdir -p "$T/j-home" "$T/j-empty-home"
wrap_j() { unshare --mount sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T/hosts-j" "$@"; }
J_PROXY_PID=""
stop_j_proxy() { delay_proxy_stop J_PROXY_PID; }
start_j_proxy() { # RTT_MS
  delay_proxy_start J_PROXY_PID "the delay proxy of (j)" "$1" "$T/j-ca/api.pem" "$T/j-proxy.jsonl" "$T/j-proxy.err" \
    "tls+$J_IP:443=127.0.0.1:$API_PORT"
}
# A silent instance metadata endpoint on loopback: the kernel accepts connections into its backlog, nobody reads.
J_SILENT_PORT=$("$PY" "$LIB" free-port)
"$PY" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(128); open(sys.argv[2], "w").close()
while True: time.sleep(3600)' "$J_SILENT_PORT" "$T/j-silent.ready" < /dev/null > /dev/null 2>&1 &
J_SILENT_PID=$!
PIDS+=("$J_SILENT_PID")
wait_for "the silent metadata endpoint" 10 test -f "$T/j-silent.ready"

j_binary() { # TOOL: the helper binary and its verb
  case "$1" in
    ship) echo "$BIN credential-helper" ;;
    theirs) echo docker-credential-ecr-login ;;
  esac
}
j_get() { # TOOL: one `get` of the private host, its answer checked; J_SECONDS is the tool's own wall time
  local out start end
  # The clock runs inside the namespace, around the tool alone: setting up the namespace and its hosts file costs
  # more than a cached answer, and a docker-launched helper pays none of it.
  # shellcheck disable=SC2016,SC2046 # the inner script expands its own variables; j_binary's words are the command and its verb
  out=$(printf '%s\n' "$HOST" | wrap_j bash -c 's=$EPOCHREALTIME; "${@:2}"; r=$?; echo "$s $EPOCHREALTIME" > "$1"; exit $r' \
    bash "$T/j-clock" "${J_ENV[@]}" $(j_binary "$1") get 2> "$T/j-$1.err") ||
    { cat "$T/j-$1.err" >&2; die "(j) $1 get failed"; }
  read -r start end < "$T/j-clock"
  J_SECONDS=$(elapsed "$start" "$end")
  # The answer and the expected token go through stdin and the environment, never argv.
  printf '%s' "$out" | BENCH_PASSWORD=$PASSWORD "$PY" -c 'import json, os, sys
a = json.load(sys.stdin); sys.exit(a.get("Secret") != os.environ["BENCH_PASSWORD"] or a.get("Username") != "AWS")' ||
    die "(j) $1 answered something else than the stand-in's token"
}
j_none() { # VARIANT TOOL: the no-credentials answer; its exit status and first stdout line recorded
  local code=0
  case "$1" in
    unreachable)
      # shellcheck disable=SC2046
      printf '%s\n' "$HOST" | unshare --net sh -c 'ip link set lo up && exec "$@"' sh \
        env -i "PATH=$PATH" "HOME=$T/j-empty-home" "XDG_CACHE_HOME=$T/j-none-cache" "AWS_ECR_CACHE_DIR=$T/j-none-cache" \
        $(j_binary "$2") get > "$T/j-none.out" 2> "$T/j-none.err" || code=$? ;;
    silent)
      # shellcheck disable=SC2046
      printf '%s\n' "$HOST" | env -i "PATH=$PATH" "HOME=$T/j-empty-home" "XDG_CACHE_HOME=$T/j-none-cache" \
        "AWS_ECR_CACHE_DIR=$T/j-none-cache" "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$J_SILENT_PORT" \
        $(j_binary "$2") get > "$T/j-none.out" 2> "$T/j-none.err" || code=$? ;;
  esac
  [ "$code" != 0 ] || die "(j) $2 found credentials where there are none: $(cat "$T/j-none.out")"
  J_NONE_ANSWER="exit $code, $(head -n 1 "$T/j-none.out" | cut -c1-60)"
}
j_token_calls() { stand_in_stat get_authorization_token; }

say "(j) credential helper get: $J_RUNS runs per cell at ${J_RTTS[*]} ms RTT; docker-credential-ecr-login $J_THEIRS_VERSION"
for rtt in "${J_RTTS[@]}"; do
  start_j_proxy "$rtt"
  for i in $(seq "$J_RUNS"); do
    if ((i % 2)); then order=(ship theirs); else order=(theirs ship); fi
    for tool in "${order[@]}"; do
      rm -rf "$T/j-cache-ship" "$T/j-cache-theirs"
      before=$(j_token_calls)
      j_get "$tool"
      record "j-cold$rtt" "$tool" "$J_SECONDS" - "$(($(j_token_calls) - before))"
      before=$(j_token_calls)
      j_get "$tool"
      record "j-warm$rtt" "$tool" "$J_SECONDS" - "$(($(j_token_calls) - before))"
    done
  done
  say "(j) at $rtt ms: cold ship $(med "j-cold$rtt" ship) s / theirs $(med "j-cold$rtt" theirs) s, warm ship $(med "j-warm$rtt" ship) s / theirs $(med "j-warm$rtt" theirs) s"
done
# Warm, precisely: a cached answer takes a few ms, about what starting any process costs, so one call per sample
# is too coarse. J_LOOP calls in a row inside one namespace, each answer checked, and the same loop of `true`
# started the same way (env -i), whose time is what neither tool can go below.
J_LOOP=${BENCH_HELPER_LOOP:-200}
j_warm_loop() { # TOOL: mean milliseconds per warm get over J_LOOP calls ("true": the start-up floor)
  local command
  if [ "$1" = true ]; then command=true; else command="$(j_binary "$1") get"; fi
  # shellcheck disable=SC2016,SC2086 # the inner script expands its own variables; the command's words split
  printf '%s\n' "$HOST" | wrap_j bash -c 'host=$(cat); mode=$1; n=$2; shift 2; s=$EPOCHREALTIME
for ((i = 0; i < n; i++)); do
  out=$(printf "%s\n" "$host" | "$@") || exit 1
  [ "$mode" = true ] || case "$out" in *Secret*) ;; *) exit 1 ;; esac
done
awk -v s="$s" -v e="$EPOCHREALTIME" -v n="$n" "BEGIN { printf \"%.2f\", (e - s) * 1000 / n }"' \
    bash "$1" "$J_LOOP" "${J_ENV[@]}" $command 2> "$T/j-loop.err" || { cat "$T/j-loop.err" >&2; die "(j) the warm loop of $1 failed"; }
}
for tool in ship theirs; do rm -rf "$T/j-cache-$tool"; j_get "$tool"; done # one cold get fills each cache
for tool in ship theirs true; do J_LOOP_MS[$tool]=$(j_warm_loop "$tool"); done
say "(j) warm, $J_LOOP calls in a row: ship ${J_LOOP_MS[ship]} ms, theirs ${J_LOOP_MS[theirs]} ms, true ${J_LOOP_MS[true]} ms per call"
stop_j_proxy
for variant in unreachable silent; do
  runs=$J_RUNS
  [ "$variant" = unreachable ] || runs=$J_SILENT_RUNS
  for i in $(seq "$runs"); do
    if ((i % 2)); then order=(ship theirs); else order=(theirs ship); fi
    for tool in "${order[@]}"; do
      s=$EPOCHREALTIME; j_none "$variant" "$tool"; e=$EPOCHREALTIME
      record "j-none-$variant" "$tool" "$(elapsed "$s" "$e")" - "${J_NONE_ANSWER// /_}"
    done
  done
  say "(j) no credentials, metadata $variant: ship $(med "j-none-$variant" ship) s / theirs $(med "j-none-$variant" theirs) s"
done
kill -TERM "$J_SILENT_PID" 2>/dev/null || true
wait "$J_SILENT_PID" 2>/dev/null || true

helper_report() {
  j_cell() { printf '%s s (%s)' "$(med "$1" "$2")" "$(runs_of "$1" "$2")"; }
  j_ratio() { awk -v a="$(med "$1" ship)" -v b="$(med "$1" theirs)" 'BEGIN { printf "%.2f", a / b }'; }
  j_calls() { awk -v s="$1" -v t="$2" '$1 == s && $2 == t { n += $5 } END { print n + 0 }' "$T/results"; }
  j_answer() { awk -v s="$1" -v t="$2" '$1 == s && $2 == t { a = $5 } END { gsub("_", " ", a); print a }' "$T/results"; }
  local hi=${J_RTTS[-1]} rtt
  cat <<EOF

## Credential helper (j): \`get\`, $J_RUNS runs per cell ($J_SILENT_RUNS with silent metadata), against docker-credential-ecr-login $J_THEIRS_VERSION

Both helpers are called as docker calls them (the host on stdin), inside a mount namespace where
\`$J_API_NAME\` is the delay proxy, which ends TLS and forwards to the stand-in's API. Cold: empty token cache
(each tool's own: \`XDG_CACHE_HOME\`, \`AWS_ECR_CACHE_DIR\`); warm: the next call. Static keys in the environment,
instance metadata off. Wall seconds of the tool alone (clocked inside the namespace, so not its set-up), medians with the runs in brackets; "calls" counts the stand-in's
GetAuthorizationToken answers over all runs of the cell.

| Case | Tool | $(for rtt in "${J_RTTS[@]}"; do printf '%s ms RTT | ' "$rtt"; done)Calls at $hi ms |
| --- | --- | $(for rtt in "${J_RTTS[@]}"; do printf -- '--- | '; done)---: |
| **cold** (empty cache) | \`ecr-ship credential-helper get\` | $(for rtt in "${J_RTTS[@]}"; do printf '%s | ' "$(j_cell "j-cold$rtt" ship)"; done)$(j_calls "j-cold$hi" ship) |
| | \`docker-credential-ecr-login get\` | $(for rtt in "${J_RTTS[@]}"; do printf '%s | ' "$(j_cell "j-cold$rtt" theirs)"; done)$(j_calls "j-cold$hi" theirs) |
| **warm** (token cached) | \`ecr-ship credential-helper get\` | $(for rtt in "${J_RTTS[@]}"; do printf '%s | ' "$(j_cell "j-warm$rtt" ship)"; done)$(j_calls "j-warm$hi" ship) |
| | \`docker-credential-ecr-login get\` | $(for rtt in "${J_RTTS[@]}"; do printf '%s | ' "$(j_cell "j-warm$rtt" theirs)"; done)$(j_calls "j-warm$hi" theirs) |

The "no credentials" answer (no AWS variables, no ~/.aws, an empty cache):

| Instance metadata | Tool | Time | Answer |
| --- | --- | --- | --- |
| unreachable (network namespace, only lo up) | \`ecr-ship credential-helper get\` | $(j_cell j-none-unreachable ship) | $(j_answer j-none-unreachable ship) |
| | \`docker-credential-ecr-login get\` | $(j_cell j-none-unreachable theirs) | $(j_answer j-none-unreachable theirs) |
| silent (a loopback port that accepts and never answers) | \`ecr-ship credential-helper get\` | $(j_cell j-none-silent ship) | $(j_answer j-none-silent ship) |
| | \`docker-credential-ecr-login get\` | $(j_cell j-none-silent theirs) | $(j_answer j-none-silent theirs) |

| Target | Measured | Result |
| --- | --- | --- |
| (j) warm \`get\` ≤ 0.3 × theirs, at $hi ms | $(med "j-warm$hi" ship) s vs $(med "j-warm$hi" theirs) s = $(j_ratio "j-warm$hi") × | $(yes_no "$(med "j-warm$hi" ship) <= 0.3 * $(med "j-warm$hi" theirs)") |
| (j) warm \`get\` ≤ 0.3 × theirs, $J_LOOP calls in a row | ${J_LOOP_MS[ship]} ms vs ${J_LOOP_MS[theirs]} ms per call = $(awk -v a="${J_LOOP_MS[ship]}" -v b="${J_LOOP_MS[theirs]}" 'BEGIN { printf "%.2f", a / b }') × (starting \`true\` the same way: ${J_LOOP_MS[true]} ms) | $(yes_no "${J_LOOP_MS[ship]} <= 0.3 * ${J_LOOP_MS[theirs]}") |
| (j) cold \`get\` ≤ 0.7 × theirs, at $hi ms | $(med "j-cold$hi" ship) s vs $(med "j-cold$hi" theirs) s = $(j_ratio "j-cold$hi") × | $(yes_no "$(med "j-cold$hi" ship) <= 0.7 * $(med "j-cold$hi" theirs)") |
| (j) no credentials ≤ 0.05 × theirs, metadata unreachable | $(med j-none-unreachable ship) s vs $(med j-none-unreachable theirs) s = $(j_ratio j-none-unreachable) × | $(yes_no "$(med j-none-unreachable ship) <= 0.05 * $(med j-none-unreachable theirs)") |
| (j) no credentials ≤ 0.05 × theirs, metadata silent | $(med j-none-silent ship) s vs $(med j-none-silent theirs) s = $(j_ratio j-none-silent) × | $(yes_no "$(med j-none-silent ship) <= 0.05 * $(med j-none-silent theirs)") |
EOF
}
