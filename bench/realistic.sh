# bench/realistic.sh: row (i) of bench/run, a realistic image pushed from docker both ways at 0 and 40 ms RTT.
# Sourced by bench/run (alone with BENCH_ONLY=realistic); uses bench/latency.sh's delay proxy and far-side dockerd
# (sourcing its set-up only when it has not run yet) and stops what it starts by PID.
#
#   (i) a Debian-like image of about 350 MiB in 6 uncompressed layers, made here from this machine's /usr files
#       (shared libraries, /usr/share, binaries, the Python standard library, gcc's files) plus an application layer
#       of pseudo-random bytes, loaded into dockerd with `docker load` (nothing is pulled). Pushed with 3 tags by
#       `ecr-ship push --image --transfer engine` (docker push does the upload) and `--transfer native` (docker
#       save, then ecr-ship gzips and uploads the archive); `docker save -o` alone is timed too, for the export's
#       cost. Every run checks that the pushed config digest is the local image id and that the 3 tags agree.
#
# dockerd here is Debian's 20.10, which has no containerd image store: the store whose `docker save` holds the
# original compressed blobs is not measured (BENCHMARKS.md says what the code does there).

I_RUNS=${BENCH_REALISTIC_RUNS:-3}
read -r -a I_RTTS <<< "${BENCH_RTTS_MS:-0 40}"
for rtt in "${I_RTTS[@]}"; do
  for i in $(seq "$I_RUNS"); do
    for tool in engine native; do repos+=("bench/i$rtt-$tool-$i"); done
  done
done
if ! declare -F start_proxy > /dev/null; then
  LATENCY_SETUP_ONLY=1
  source "$ROOT/bench/latency.sh"
else
  fresh_registry # makes the (i) repositories too
fi
[ -n "$DOCKERD_PID" ] || start_dockerd "$T/hosts-far"

say "(i) making a Debian-like docker save archive (6 layers of /usr files + an application layer) and loading it"
I_LAYERS_SPEC=(
  "tree:125829120:/usr/lib/x86_64-linux-gnu,/usr/lib/aarch64-linux-gnu"
  "tree:73400320:/usr/share"
  "tree:62914560:/usr/bin"
  "tree:41943040:/usr/lib/python3.11,/usr/lib/python3"
  "tree:41943040:/usr/lib/gcc,/usr/libexec"
  "random:16777216:i-application"
)
read -r I_BYTES I_LAYERS < <("$PY" "$LIB" archive "$T/i.tar" bench-real:latest "${I_LAYERS_SPEC[@]}" 2> "$T/i-layers.txt")
I_DESCRIPTION=$(sed 's/^layer [0-9]*: //' "$T/i-layers.txt" | paste -sd ';' - | sed 's/;/; /g')
env "${DOCKER_ENV[@]}" DOCKER_CONFIG="$T/d/build" docker load -q -i "$T/i.tar" > /dev/null
rm -f "$T/i.tar"
I_IMAGE_ID=$(env "${DOCKER_ENV[@]}" DOCKER_CONFIG="$T/d/build" docker image inspect -f '{{.Id}}' bench-real:latest)

i_config_digest() { # REPO TAG: the config digest of the manifest the registry serves under the tag
  "${CURL[@]}" -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "https://$HOST/v2/$1/manifests/$2" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["config"]["digest"])'
}
measure_i() { # RTT TOOL REPO
  local rtt=$1 tool=$2 repo=$3 s e digest config
  fresh_registry
  cat "$CA" "$T/far-ca/ca.crt" > "$T/far-ca/bundle.pem" # the restarted stand-in has a new CA
  start_proxy "$rtt"
  s=$EPOCHREALTIME
  ship_far push --repository "$repo" --image bench-real:latest --engine docker --transfer "$tool" \
    --tag t1 --tag t2 --tag t3 --sha "$SHA" --branch main
  e=$EPOCHREALTIME
  stop_proxy
  digest=$(docker_digest "$repo" t1)
  for tag in t2 t3; do check_pushed "$repo" "$tag" "$digest"; done
  config=$(i_config_digest "$repo" t1)
  [ "$config" = "$I_IMAGE_ID" ] || die "(i) $tool: the pushed config is $config, not the local image id $I_IMAGE_ID"
  record "i$rtt" "$tool" "$(elapsed "$s" "$e")" "$(cat "$T/rss")" "$(stored_bytes)" "$digest"
  say "(i) $tool at $rtt ms RTT: $(elapsed "$s" "$e") s, $(stored_bytes) bytes stored"
}
measure_i_save() { # the export alone: time and size of `docker save -o` of the image
  local s e size
  mkdir -p "$T/i-save"
  s=$EPOCHREALTIME
  env "${DOCKER_ENV[@]}" DOCKER_CONFIG="$T/d/build" docker save -o "$T/i-save/i.tar" bench-real:latest
  e=$EPOCHREALTIME
  size=$(stat -c %s "$T/i-save/i.tar")
  rm -rf "$T/i-save"
  record i-save docker "$(elapsed "$s" "$e")" - "$size"
}
say "(i) $I_RUNS runs each of --transfer engine and --transfer native at ${I_RTTS[*]} ms RTT; $I_BYTES layer bytes"
for rtt in "${I_RTTS[@]}"; do
  for i in $(seq "$I_RUNS"); do
    if ((i % 2)); then order=(engine native); else order=(native engine); fi
    for tool in "${order[@]}"; do measure_i "$rtt" "$tool" "bench/i$rtt-$tool-$i"; done
  done
done
for i in $(seq "$I_RUNS"); do measure_i_save; done
stop_dockerd
stop_registry

realistic_report() {
  local rtt tool
  i_cell() { printf '%s s (%s)' "$(med "i$1" "$2")" "$(runs_of "i$1" "$2")"; }
  i_digests() { awk -v s="i$1" -v t="$2" '$1 == s && $2 == t { d[$6] = 1 } END { for (k in d) printf "%s ", substr(k, 1, 19) }' "$T/results"; }
  cat <<EOF

## Realistic image from docker (i): $I_RUNS runs per cell, through bench/delay_proxy.py at ${I_RTTS[*]} ms RTT

Image: \`docker load\` of a classic archive, $I_LAYERS uncompressed layers, $I_BYTES bytes: $I_DESCRIPTION.
3 tags. Every run checks that the registry serves the local image id ($(printf '%s' "$I_IMAGE_ID" | cut -c1-19)…) as
the config digest under all 3 tags. Peak RSS is ecr-ship's own (docker's push runs in dockerd).

| Tool | $(for rtt in "${I_RTTS[@]}"; do printf '%s ms RTT | ' "$rtt"; done)Stored (MiB) | Peak RSS | Manifest digests |
| --- | $(for rtt in "${I_RTTS[@]}"; do printf -- '--- | '; done)---: | ---: | --- |
$(for tool in engine native; do
    printf '| `ecr-ship push --image --transfer %s` | ' "$tool"
    for rtt in "${I_RTTS[@]}"; do printf '%s | ' "$(i_cell "$rtt" "$tool")"; done
    printf '%.1f | %s | %s |\n' "$(awk -v b="$(med "i${I_RTTS[-1]}" "$tool" 5)" 'BEGIN { print b / 1048576 }')" \
      "$(maxrss "i${I_RTTS[-1]}" "$tool")" "$(i_digests "${I_RTTS[-1]}" "$tool")"
  done)
| the export alone: \`docker save -o\` | $(med i-save docker) s ($(runs_of i-save docker)) | | $(awk -v b="$(field i-save docker 5)" 'BEGIN { printf "%.1f", b / 1048576 }') (archive) | | |
EOF
}
