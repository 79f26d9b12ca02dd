"""Small stdlib-only helpers for bench/run (images, free addresses, log counting, statistics).

Usage: python3 bench/lib.py COMMAND ARGS...
  free-port                         a free TCP port on 127.0.0.1
  free-ip                           a 127.0.0.N (200..250) with nothing listening on :443
  layout DIR TAG SEED SIZE...       OCI image layout with one uncompressed random-data tar layer per SIZE (bytes);
                                    prints "sha256:<manifest digest> <blob bytes incl. config+manifest>"
  blobs DIR TAG                     "<digest> <path> <media type>" for config + layers, then the manifest last
  median X...                       median of the numbers
  access COUNTS LOG START           counts of registry access-log lines after byte offset START, by client
  protocols LOG START               HTTP versions of the blob PUTs in the registry access log after offset START
  ctx DIR MB FILES                  docker build context: FROM scratch + FILES random files of MB MiB each
  archive FILE TAG LAYER...         classic `docker save` tar (uncompressed layers) of one image tagged TAG; each
                                    LAYER is `tree:BUDGET:ROOT[,ROOT...]` (regular files under the first ROOT that
                                    exists, in sorted order, until BUDGET bytes) or `random:BUDGET:SEED`; prints
                                    "<uncompressed layer bytes> <layer count>" and one "<layer> <bytes> <source>"
                                    line per layer on stderr
"""

import hashlib
import io
import json
import os
import random
import re
import socket
import statistics
import sys
import tarfile

CHUNK = 1 << 20


class RandomReader:
    """A file-like source of `size` pseudo-random (incompressible) bytes."""

    def __init__(self, seed, size):
        self.rng = random.Random(seed)
        self.left = size

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return self.rng.randbytes(n)


class HashingWriter:
    def __init__(self, path):
        self.file = open(path, "wb")
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.file.write(data)

    def close(self):
        self.file.close()


def put_blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return digest


def layout(out, tag, seed, *sizes):
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    layers, diff_ids, total = [], [], 0
    for i, size in enumerate(int(s) for s in sizes):
        tmp = os.path.join(blobs, f"tmp-{i}")
        writer = HashingWriter(tmp)
        # tarfile only needs write(); the format is plain ustar, one regular file.
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.USTAR_FORMAT, bufsize=CHUNK) as tar:
            info = tarfile.TarInfo(f"data/{seed}-{i}.bin")
            info.size, info.mode, info.mtime = size, 0o644, 0
            tar.addfile(info, RandomReader(f"{seed}-{i}", size))
        writer.close()
        digest = writer.sha.hexdigest()
        os.replace(tmp, os.path.join(blobs, digest))
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": f"sha256:{digest}",
                       "size": writer.size})
        diff_ids.append(f"sha256:{digest}")
        total += writer.size
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}, separators=(",", ":")).encode()
    config_digest = put_blob(blobs, config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{config_digest}",
                   "size": len(config)},
        "layers": layers,
    }, separators=(",", ":")).encode()
    manifest_digest = put_blob(blobs, manifest)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": f"sha256:{manifest_digest}",
         "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    print(f"sha256:{manifest_digest} {total + len(config) + len(manifest)}")


def blobs(out, tag):
    with open(os.path.join(out, "index.json")) as f:
        index = json.load(f)
    entry = next(m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag)
    path = lambda d: os.path.join(out, "blobs", "sha256", d.split(":", 1)[1])
    with open(path(entry["digest"])) as f:
        manifest = json.load(f)
    for desc in [manifest["config"]] + manifest["layers"]:
        print(desc["digest"], path(desc["digest"]), desc["mediaType"])
    print(entry["digest"], path(entry["digest"]), entry["mediaType"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def free_ip():
    for n in range(250, 199, -1):
        ip = f"127.0.0.{n}"
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's listener; ignores TIME_WAIT leftovers
            try:
                s.bind((ip, 443))
            except OSError:
                continue
        print(ip)
        return
    sys.exit("no free 127.0.0.N:443 in 200..250")


def median(*values):
    print(f"{statistics.median(float(v) for v in values):.3f}")


# Combined log format: host - user [time] "METHOD PATH PROTO" status size "referer" "user-agent"
ACCESS = re.compile(r'"(\w+) (\S+) [^"]*" (\d{3}) \S+ "[^"]*" "([^"]*)"')


def access(log, start):
    counts = {"ship": 0, "ship_blob_writes": 0, "other": 0}
    methods = {}
    with open(log, "rb") as f:
        f.seek(int(start))
        for line in f.read().decode(errors="replace").splitlines():
            m = ACCESS.search(line)
            if not m:
                continue
            method, path, status, agent = m.groups()
            if agent.startswith("ecr-ship/"):
                counts["ship"] += 1
                short = re.sub(r"/v2/.*?/(blobs|manifests)/.*", r"/v2/…/\1/…", path)
                key = f"{method} {short} {status}"
                methods[key] = methods.get(key, 0) + 1
                if "/blobs/uploads" in path and method in ("POST", "PUT", "PATCH"):
                    counts["ship_blob_writes"] += 1
            else:
                counts["other"] += 1
    counts["detail"] = ", ".join(f"{v}× {k}" for k, v in sorted(methods.items())) or "none"
    for key, value in counts.items():
        print(f"{key}={value}")


def protocols(log, start):
    """Protocols of the blob upload PUTs after byte offset START, e.g. "HTTP/1.1" or "HTTP/2.0"."""
    seen = set()
    with open(log, "rb") as f:
        f.seek(int(start))
        for line in f.read().decode(errors="replace").splitlines():
            m = re.search(r'"PUT /v2/\S+/blobs/uploads/\S* (HTTP/[\d.]+)"', line)
            if m:
                seen.add(m.group(1))
    print("+".join(sorted(seen)) or "-")


def ctx(out, mb, files):
    os.makedirs(out, exist_ok=True)
    lines = ["FROM scratch"]
    for i in range(int(files)):
        name = f"file{i}.bin"
        with open(os.path.join(out, name), "wb") as f:
            f.write(random.Random(f"ctx-{i}").randbytes(int(mb) << 20))
        lines.append(f"COPY {name} /{name}")
    with open(os.path.join(out, "Containerfile"), "w") as f:
        f.write("\n".join(lines) + "\n")


def tree_layer(tar, budget, roots):
    root = next((r for r in roots.split(",") if os.path.isdir(r)), None)
    if root is None:
        sys.exit(f"none of {roots} exists")
    used = 0
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            size = os.path.getsize(path)
            if used + size > budget:
                continue
            info = tar.gettarinfo(path, arcname=os.path.relpath(path, "/"))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with open(path, "rb") as f:
                tar.addfile(info, f)
            used += size
            if used >= budget * 0.98:
                return root
    return root


def archive(out, tag, *layers):
    """A classic docker save archive: manifest.json, <config hex>.json and <n>/layer.tar, as dockerd 20.10 writes."""
    entries, diff_ids, total = [], [], 0
    work = out + ".parts"
    os.makedirs(work, exist_ok=True)
    for i, spec in enumerate(layers):
        kind, budget, arg = spec.split(":", 2)
        path = os.path.join(work, f"{i}.tar")
        writer = HashingWriter(path)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK) as tar:
            if kind == "tree":
                source = tree_layer(tar, int(budget), arg)
            else:
                info = tarfile.TarInfo(f"data/{arg}.bin")
                info.size, info.mode, info.mtime = int(budget), 0o644, 0
                tar.addfile(info, RandomReader(arg, int(budget)))
                source = "pseudo-random bytes"
        writer.close()
        diff_ids.append(f"sha256:{writer.sha.hexdigest()}")
        entries.append((f"{i:04d}/layer.tar", path))
        total += writer.size
        print(f"layer {i}: {writer.size} bytes of {source}", file=sys.stderr)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [n for n, _ in entries]}]).encode()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("manifest.json", manifest), (config_name, config)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for name, path in entries:
            tar.add(path, arcname=name)
            os.remove(path)
    os.rmdir(work)
    print(f"{total} {len(entries)}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"layout": layout, "blobs": blobs, "free-port": free_port, "free-ip": free_ip, "median": median,
     "access": access, "protocols": protocols, "ctx": ctx, "archive": archive}[command](*args)
