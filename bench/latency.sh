# bench/latency.sh: rows (e)-(g) of bench/run, the same steps at a network's distance. Sourced by bench/run, whose
# stand-in, dockerd, wrap and record functions it uses; stops what it starts (the delay proxy) by PID.
#
#   (e) ecr-ship push --image --engine docker, 3 tags (through docker push with --transfer engine, and with the
#       default flags: docker save, then ecr-ship's native push), vs the
#       usual chain: amazon-ecr-login's published dist/ run by node as a runner runs it (main step, then its post
#       step), plus docker tag + docker push per tag
#   (f) ecr-ship push of a small 2-layer OCI layout with 2 tags (and (f') the same with --registry given): its
#       round trips on the critical path, from the stand-in's request timeline, next to the protocol floor; the
#       waterfall of one run at 40 ms is drawn as an SVG
#   (g) ecr-ship login vs amazon-ecr-login's main step, both started through the same programs (the name space's
#       nsenter, env, /usr/bin/time), whose own cost is measured beside them around `true`
#
# Every row runs at each RTT of BENCH_RTTS_MS (default "0 40") through bench/delay_proxy.py, which holds every byte
# for half the RTT each way (AWS API and registry, blobs included) and charges a new connection one more round trip.
# The 0 ms rows go through the same proxy, so the two columns differ by distance only. The proxy is restarted
# before every measured run, so no connection (dockerd keeps idle ones) outlives a run.
#
# Needs BENCH_ECR_LOGIN_DIST: the dist/ directory of aws-actions/amazon-ecr-login v2.1.7 (commit 03f1aad), checked
# against ECR_LOGIN_DIST_SHA256 below (sha256 of `sha256sum` over its files in path order).

ECR_LOGIN_VERSION="v2.1.7 (03f1aad)"
ECR_LOGIN_DIST_SHA256=3468e516f7aa9ed393832d094f6df9f089e7e594183e6f6715225e8de33f413a
LAT_RUNS=${BENCH_LATENCY_RUNS:-3}
read -r -a RTTS <<< "${BENCH_RTTS_MS:-0 40}"
ECR_LOGIN=${BENCH_ECR_LOGIN_DIST:-}
[ -n "$ECR_LOGIN" ] || die "BENCH_ECR_LOGIN_DIST is not set: clone https://github.com/aws-actions/amazon-ecr-login at $ECR_LOGIN_VERSION and set it to the clone's dist/ directory (or run BENCH_ONLY=main)"
[ -f "$ECR_LOGIN/index.js" ] && [ -f "$ECR_LOGIN/cleanup/index.js" ] ||
  die "BENCH_ECR_LOGIN_DIST is '$ECR_LOGIN', which holds no index.js and cleanup/index.js: give amazon-ecr-login's dist/"
dist_sum=$(cd "$ECR_LOGIN" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
[ "$dist_sum" = "$ECR_LOGIN_DIST_SHA256" ] ||
  die "BENCH_ECR_LOGIN_DIST '$ECR_LOGIN' has checksum $dist_sum, not the pinned $ECR_LOGIN_DIST_SHA256 of amazon-ecr-login $ECR_LOGIN_VERSION"
command -v node > /dev/null || setup_apt nodejs
setup_commands node

# The far side: the registry name resolves to FAR_IP, where the proxy listens and forwards to the stand-in.
STAND_IN_TIMELINE="$T/timeline.jsonl"
: > "$STAND_IN_TIMELINE"
for rtt in "${RTTS[@]}"; do
  for i in $(seq "$LAT_RUNS"); do
    for tool in ship ship-native chain; do repos+=("bench/e$rtt-$tool-$i"); done
    for tool in ship ship-registry; do repos+=("bench/f$rtt-$tool-$i"); done
  done
done
fresh_registry
FAR_IP=$("$PY" "$LIB" free-ip)
FAR_API_PORT=$("$PY" "$LIB" free-port)
# The AWS APIs are HTTPS: the proxy ends TLS for them behind the delay, under a name of a CA made here.
API_NAME=api.ecr.us-east-1.amazonaws.com
source "$ROOT/bench/proxy.sh"
{ api_certificate "$T/far-ca" "$API_NAME" bench-far-ca && cat "$CA" "$T/far-ca/ca.crt" > "$T/far-ca/bundle.pem"; } ||
  die "openssl could not make the API's certificate"
printf '127.0.0.1 localhost\n%s %s %s\n' "$FAR_IP" "$HOST" "$API_NAME" > "$T/hosts-far"
# One private mount namespace for the whole section, made once and entered by every far command: making it per
# command (unshare, sh and mount, three programs) cost about 9 ms a run, the same for every tool, where entering it
# with nsenter (plus env and /usr/bin/time, the (g) harness row) costs 5-6 ms; at 0 ms a login step takes about 20.
# The holder is stopped by PID in bench/run's cleanup.
unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/hosts && exec sleep infinity' "$T/hosts-far" &
FAR_NS_PID=$!
PIDS+=("$FAR_NS_PID")
wait_for "the far name space" 20 sh -c 'nsenter --target "$0" --mount grep -q "$1" /etc/hosts' "$FAR_NS_PID" "$API_NAME"
wrap_far() { nsenter --target "$FAR_NS_PID" --mount -- "$@"; }
FAR_ENV=()
for kv in "${SHIP_ENV[@]}"; do
  case "$kv" in
    AWS_ENDPOINT_URL_*=*) kv="${kv%%=*}=https://$API_NAME:$FAR_API_PORT" ;;
    SSL_CERT_FILE=*) kv="SSL_CERT_FILE=$T/far-ca/bundle.pem" ;;
  esac
  FAR_ENV+=("$kv")
done
FAR_ENV+=("NODE_EXTRA_CA_CERTS=$T/far-ca/bundle.pem")
PROXY_PID=""
PROXY_LOG="$T/proxy.jsonl"
stop_proxy() { delay_proxy_stop PROXY_PID; }
start_proxy() { # RTT_MS
  delay_proxy_start PROXY_PID "the delay proxy" "$1" "$T/far-ca/api.pem" "$PROXY_LOG" "$T/proxy.err" \
    "$FAR_IP:443=$IP:443" "tls+$FAR_IP:$FAR_API_PORT=127.0.0.1:$API_PORT"
}

# dockerd of (b)/(h) resolves the registry directly; this one resolves it to the proxy.
stop_dockerd
start_dockerd "$T/hosts-far"
if ! env "${DOCKER_ENV[@]}" DOCKER_CONFIG="$T/d/build" docker image inspect bench-app:latest > /dev/null 2>&1; then
  "$PY" "$LIB" ctx "$T/ctx" 4 3
  env "${DOCKER_ENV[@]}" DOCKER_CONFIG="$T/d/build" DOCKER_BUILDKIT=0 \
    docker build -q -t bench-app:latest -f "$T/ctx/Containerfile" "$T/ctx" > /dev/null
fi
read -r F_DIGEST F_BYTES < <("$PY" "$LIB" layout "$T/oci-f" latest f 1048576 262144)

# amazon-ecr-login as a runner runs it: node on its dist, outputs and state as files, the state handed to the
# post step as STATE_* variables.
ecr_login_main() { # DOCKER_CONFIG_DIR
  rm -rf "$T/gh"
  mkdir -p "$T/gh"
  : > "$T/gh/output"
  : > "$T/gh/state"
  wrap_far "${FAR_ENV[@]}" "${DOCKER_ENV[@]}" "DOCKER_CONFIG=$1" "GITHUB_OUTPUT=$T/gh/output" \
    "GITHUB_STATE=$T/gh/state" "RUNNER_TEMP=$T/gh" /usr/bin/time -f %M -o "$T/rss-chain" node "$ECR_LOGIN/index.js" \
    > "$T/chain.out" 2>&1 ||
    { cat "$T/chain.out" >&2; die "amazon-ecr-login failed"; }
}
gh_file_value() { awk -v k="$2" 'index($0, k "<<") == 1 { getline; print; exit }' "$1"; }
ecr_login_post() { # DOCKER_CONFIG_DIR
  wrap_far "${FAR_ENV[@]}" "${DOCKER_ENV[@]}" "DOCKER_CONFIG=$1" \
    "STATE_registries=$(gh_file_value "$T/gh/state" registries)" node "$ECR_LOGIN/cleanup/index.js" \
    > "$T/chain-post.out" 2>&1 || { cat "$T/chain-post.out" >&2; die "amazon-ecr-login's post step failed"; }
}
chain_push() { # REPO TAG...: amazon-ecr-login, then docker tag + docker push per tag, then the post step
  local repo=$1 registry; shift
  ecr_login_main "$T/d/cfg-chain"
  registry=$(gh_file_value "$T/gh/output" registry)
  [ "$registry" = "$HOST" ] || die "amazon-ecr-login's registry output is '$registry', not $HOST"
  wrap_far env -i "PATH=$PATH" "HOME=$T/home" "${DOCKER_ENV[@]}" "DOCKER_CONFIG=$T/d/cfg-chain" \
    sh -c 'image=$1; shift; for tag; do docker tag bench-app:latest "$image:$tag" && docker push -q "$image:$tag" || exit 1; done' \
    sh "$registry/$repo" "$@" > "$T/docker.out" 2>&1 || { cat "$T/docker.out" >&2; die "docker push failed"; }
  ecr_login_post "$T/d/cfg-chain"
}
ship_far() { # ARGS...
  wrap_far "${FAR_ENV[@]}" "${DOCKER_ENV[@]}" "DOCKER_CONFIG=$T/d/cfg-ship-far" /usr/bin/time -f %M -o "$T/rss" \
    "$BIN" "$@" > "$T/ship.out" 2> "$T/ship.err" || { cat "$T/ship.err" >&2; die "ecr-ship $1 failed"; }
}
docker_digest() { # REPO TAG
  printf 'sha256:%s' "$("${CURL[@]}" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "https://$HOST/v2/$1/manifests/$2" | sha256sum | cut -d' ' -f1)"
}
measure_latency() { # ROW RTT TOOL REPO
  local row=$1 rtt=$2 tool=$3 repo=$4 s e digest
  start_proxy "$rtt"
  s=$EPOCHREALTIME
  case "$row/$tool" in
    e/ship) ship_far push --repository "$repo" --image bench-app:latest --engine docker --transfer engine \
      --tag t1 --tag t2 --tag t3 \
      --sha "$SHA" --branch main ;;
    e/ship-native) ship_far push --repository "$repo" --image bench-app:latest --engine docker \
      --tag t1 --tag t2 --tag t3 --sha "$SHA" --branch main ;;
    e/chain) chain_push "$repo" t1 t2 t3 ;;
    f/ship) ship_far push --repository "$repo" --tag v1 --tag latest --from "oci:$T/oci-f:latest" --sha "$SHA" \
      --branch main ;;
    f/ship-registry) ship_far push --registry "$HOST" --repository "$repo" --tag v1 --tag latest \
      --from "oci:$T/oci-f:latest" --sha "$SHA" --branch main ;;
    g/ship) ship_far login ;;
    g/chain) ecr_login_main "$T/d/cfg-chain-login" ;;
    g/harness) wrap_far "${FAR_ENV[@]}" /usr/bin/time -f %M -o "$T/rss" true ;;
  esac
  e=$EPOCHREALTIME
  stop_proxy
  case "$row" in
    e)
      digest=$(docker_digest "$repo" t1)
      for tag in t2 t3; do check_pushed "$repo" "$tag" "$digest"; done ;;
    f) for tag in v1 latest; do check_pushed "$repo" "$tag" "$F_DIGEST"; done ;;
  esac
  if [ "$row" != g ]; then # the run's waterfall and critical path, from the timeline
    local title
    case "$row/$tool" in
      e/ship) title="(e) ecr-ship push --image, 3 tags" ;;
      e/ship-native) title="(e) ecr-ship push --image (default: docker save + native push), 3 tags" ;;
      e/chain) title="(e) amazon-ecr-login + 3 x (docker tag + docker push)" ;;
      f/ship) title="(f) ecr-ship push of a 2-layer image with 2 tags" ;;
      f/ship-registry) title="(f) ecr-ship push of a 2-layer image with 2 tags, --registry given" ;;
    esac
    "$PY" "$ROOT/bench/waterfall.py" "$PROXY_LOG" "$STAND_IN_TIMELINE" "$s" "$e" \
      "$(awk -v r="$rtt" 'BEGIN { print r / 2 }')" "$T/waterfall-${repo//\//_}.svg" "$title at $rtt ms RTT" \
      > "$T/walk-${repo//\//_}"
  fi
  record "$row$rtt" "$tool" "$(elapsed "$s" "$e")" "$([[ $tool == ship* ]] && cat "$T/rss" || echo -)" "$repo"
  say "($row) $tool at $rtt ms RTT: $(elapsed "$s" "$e") s"
}
# bench/realistic.sh sources this file for its set-up alone (LATENCY_SETUP_ONLY=1): the proxy, the far dockerd.
if [ -z "${LATENCY_SETUP_ONLY:-}" ]; then
say "(e)-(g) $LAT_RUNS runs of each row at ${RTTS[*]} ms RTT; amazon-ecr-login $ECR_LOGIN_VERSION on node $(node --version)"
for rtt in "${RTTS[@]}"; do
  for i in $(seq "$LAT_RUNS"); do
    if ((i % 2)); then e_order=(ship ship-native chain); else e_order=(chain ship-native ship); fi
    for tool in "${e_order[@]}"; do measure_latency e "$rtt" "$tool" "bench/e$rtt-$tool-$i"; done
    if ((i % 2)); then e_order=(ship chain); else e_order=(chain ship); fi
    for tool in ship ship-registry; do measure_latency f "$rtt" "$tool" "bench/f$rtt-$tool-$i"; done
    for tool in "${e_order[@]}" harness; do measure_latency g "$rtt" "$tool" -; done
  done
done
stop_dockerd
stop_registry
rm -rf "$T/oci-f"
fi

latency_report() {
  local rtt tool
  # The waterfall of the median (f) run at the largest RTT, and its critical path.
  F_RTT=${RTTS[-1]}
  median_run() { # ROW TOOL: the repository (with / as _) of the run at F_RTT whose time is closest to the median
    awk -v s="$1$F_RTT" -v t="$2" -v m="$(med "$1$F_RTT" "$2")" '$1 == s && $2 == t {
        d = $3 - m; if (d < 0) d = -d; if (!n++ || d < best) { best = d; repo = $5 } }
      END { gsub("/", "_", repo); print repo }' "$T/results"
  }
  walk_field() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
  F_WALK="$T/walk-$(median_run f ship)"
  F_WALK_REGISTRY="$T/walk-$(median_run f ship-registry)"
  E_WALK="$T/walk-$(median_run e ship)"
  E_WALK_CHAIN="$T/walk-$(median_run e chain)"
  E_WALK_NATIVE="$T/walk-$(median_run e ship-native)"
  WATERFALL_OUT=${BENCH_WATERFALL:-$ROOT/bench/waterfall-f.svg}
  cp "$T/waterfall-$(median_run f ship).svg" "$WATERFALL_OUT"
  cp "$T/waterfall-$(median_run e ship).svg" "${WATERFALL_OUT%-f.svg}-e.svg"
  cp "$T/waterfall-$(median_run e chain).svg" "${WATERFALL_OUT%-f.svg}-e-chain.svg"
  say "(e), (f) waterfalls of the median runs at $F_RTT ms: ${WATERFALL_OUT%-f.svg}-{f,e,e-chain}.svg"
  lat_cell() { printf '%s s (%s)' "$(med "$1" "$2")" "$(runs_of "$1" "$2")"; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
  per_rtt() { awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN { printf "%.1f", (a - b) / (r / 1000) }'; }
  local lo=${RTTS[0]} hi=${RTTS[-1]}
  cat <<EOF

## Latency (e)-(g): $LAT_RUNS runs per cell, through bench/delay_proxy.py at ${RTTS[*]} ms RTT

Every byte waits half the RTT each way (AWS API and registry, blobs included); a new connection pays one more RTT
(its TCP handshake); TLS pays its own handshakes (the API's TLS ends in the proxy, behind the delay). amazon-ecr-login $ECR_LOGIN_VERSION, run by node
$(node --version) on its published dist/ (pinned checksum) as a runner runs it. Times are wall seconds of the whole
step, medians with the runs in brackets.

| Row | Tool | $(for rtt in "${RTTS[@]}"; do printf '%s ms RTT | ' "$rtt"; done)Round trips (wall clock) |
| --- | --- | $(for rtt in "${RTTS[@]}"; do printf -- '--- | '; done)---: |
| **(e)** FROM scratch, 3 × 4 MiB, 3 tags, through docker | \`ecr-ship push --image --engine docker --transfer engine\` | $(for rtt in "${RTTS[@]}"; do printf '%s | ' "$(lat_cell "e$rtt" ship)"; done)$(per_rtt "$(med "e$hi" ship)" "$(med "e$lo" ship)" $((hi - lo))) |
| | \`ecr-ship push --image --engine docker\` (the default: docker save, native push) | $(for rtt in "${RTTS[@]}"; do printf '%s | ' "$(lat_cell "e$rtt" ship-native)"; done)$(per_rtt "$(med "e$hi" ship-native)" "$(med "e$lo" ship-native)" $((hi - lo))) |
| | amazon-ecr-login (main + post step) + 3 × (\`docker tag\` + \`docker push\`) | $(for rtt in "${RTTS[@]}"; do printf '%s | ' "$(lat_cell "e$rtt" chain)"; done)$(per_rtt "$(med "e$hi" chain)" "$(med "e$lo" chain)" $((hi - lo))) |
| **(f)** native, 2 layers (1 MiB + 256 KiB), 2 tags | \`ecr-ship push --from oci:\` (\`--repository\` only) | $(for rtt in "${RTTS[@]}"; do printf '%s | ' "$(lat_cell "f$rtt" ship)"; done)$(per_rtt "$(med "f$hi" ship)" "$(med "f$lo" ship)" $((hi - lo))) |
| | the same with \`--registry\` given | $(for rtt in "${RTTS[@]}"; do printf '%s | ' "$(lat_cell "f$rtt" ship-registry)"; done)$(per_rtt "$(med "f$hi" ship-registry)" "$(med "f$lo" ship-registry)" $((hi - lo))) |
| **(g)** log docker in | \`ecr-ship login\` | $(for rtt in "${RTTS[@]}"; do printf '%s | ' "$(lat_cell "g$rtt" ship)"; done)$(per_rtt "$(med "g$hi" ship)" "$(med "g$lo" ship)" $((hi - lo))) |
| | amazon-ecr-login (main step) | $(for rtt in "${RTTS[@]}"; do printf '%s | ' "$(lat_cell "g$rtt" chain)"; done)$(per_rtt "$(med "g$hi" chain)" "$(med "g$lo" chain)" $((hi - lo))) |
| | for context: the harness alone (the same namespace, \`env\` and \`/usr/bin/time\` around \`true\`), in both rows above | $(for rtt in "${RTTS[@]}"; do printf '%s | ' "$(lat_cell "g$rtt" harness)"; done) |

"Round trips" is (time at $hi ms − time at $lo ms) / $((hi - lo)) ms: the number of round trips the step waits for in
sequence, counted from the wall clock.

(f)'s floor at $hi ms, step by step, against the critical path walked back from the timeline of the median run
(each request on it counts 1 RTT, each new connection 2: TCP, then TLS 1.3):

| Step | Floor, \`--repository\` only | Floor, \`--registry\` given |
| --- | ---: | ---: |
| credentials (static keys in the environment) | 0 | 0 |
| a new connection to the ECR API (TCP + TLS 1.3) | 2 | 2 |
| who the caller is (no call: ECR's answers name the account) | 0 | 0 |
| token, repository, tag and blob lookups, all at once | 1 | 1 |
| blob HEADs (BatchCheckLayerAvailability answered them) | 0 | 0 |
| new registry connections (TCP + TLS 1.3): the token names the host / opened during the API steps | 2 | 0 |
| POST + PUT per blob, all blobs at once | 2 | 2 |
| the manifest PUT, every tag at once | 1 | 1 |
| **floor** | **8** | **6** |
| **measured: critical path from the timeline** | **$(walk_field "$F_WALK" critical_rtt)** | **$(walk_field "$F_WALK_REGISTRY" critical_rtt)** |
| measured: wall clock, (time at $hi ms − time at $lo ms) / $((hi - lo)) ms | $(per_rtt "$(med "f$hi" ship)" "$(med "f$lo" ship)" $((hi - lo))) | $(per_rtt "$(med "f$hi" ship-registry)" "$(med "f$lo" ship-registry)" $((hi - lo))) |

The critical path of the median (f) run (\`--repository\` only):
$(sed -n 's/^step /- /p' "$F_WALK")

and with \`--registry\` given:
$(sed -n 's/^step /- /p' "$F_WALK_REGISTRY")

(e)'s critical paths at $hi ms, from the same kind of timeline: ecr-ship $(walk_field "$E_WALK" critical_rtt) RTT
($(walk_field "$E_WALK" requests) requests), with the default flags $(walk_field "$E_WALK_NATIVE" critical_rtt) RTT ($(walk_field "$E_WALK_NATIVE" requests) requests), the chain $(walk_field "$E_WALK_CHAIN" critical_rtt) RTT ($(walk_field "$E_WALK_CHAIN" requests) requests).

| Target at $hi ms RTT | Measured | Result |
| --- | --- | --- |
| (e) ecr-ship ≤ 0.6 × the chain | $(med "e$hi" ship) s vs $(med "e$hi" chain) s = $(ratio "$(med "e$hi" ship)" "$(med "e$hi" chain)") × | $(yes_no "$(med "e$hi" ship) <= 0.6 * $(med "e$hi" chain)") |
| (e) the default flags ≤ 0.3 × the chain | $(med "e$hi" ship-native) s vs $(med "e$hi" chain) s = $(ratio "$(med "e$hi" ship-native)" "$(med "e$hi" chain)") × | $(yes_no "$(med "e$hi" ship-native) <= 0.3 * $(med "e$hi" chain)") |
| (f) at most 1 RTT above the floor (8; 6 with \`--registry\`) | critical path $(walk_field "$F_WALK" critical_rtt) RTT; with \`--registry\` $(walk_field "$F_WALK_REGISTRY" critical_rtt) RTT | $(yes_no "$(walk_field "$F_WALK" critical_rtt) <= 9 && $(walk_field "$F_WALK_REGISTRY" critical_rtt) <= 7") |
| (g) ecr-ship login ≤ 0.2 × amazon-ecr-login | $(med "g$hi" ship) s vs $(med "g$hi" chain) s = $(ratio "$(med "g$hi" ship)" "$(med "g$hi" chain)") × | $(yes_no "$(med "g$hi" ship) <= 0.2 * $(med "g$hi" chain)") |

The waterfalls of the median runs at $hi ms: \`${WATERFALL_OUT#"$ROOT"/}\` (f), \`$(wf_e=${WATERFALL_OUT%-f.svg}-e.svg; echo "${wf_e#"$ROOT"/}")\` and \`$(wf_c=${WATERFALL_OUT%-f.svg}-e-chain.svg; echo "${wf_c#"$ROOT"/}")\` (e).
EOF
}
