"""Makes moto (the ECR API) and Debian's docker-registry (the data plane) behave as one Amazon ECR store.

In ECR the API and the registry share one image store: a tag put with the PutImage API can be pulled, and a manifest
pushed through the registry shows up in DescribeImages. The two local stand-ins are separate programs, so this
bridge joins them, both ways:

* It is the ECR API endpoint the tests give the binary (AWS_ENDPOINT_URL_ECR). Every request is forwarded to moto
  unchanged; after a successful PutImage the same manifest bytes are PUT into the registry under the same tag (or by
  digest), before the response is returned, so a pull right after sees it.
* It receives the registry's push notifications (config `notifications:`) and, for each manifest pushed, reads the
  manifest back from the registry and calls PutImage on moto (ImageAlreadyExists is the expected echo of our own
  mirroring and is ignored).

Usage: ecr_bridge.py PORT MOTO_URL REGISTRY_URL PASSWORD [CA_FILE]
"""

import base64
import hashlib
import http.server
import json
import ssl
import sys
import threading
import urllib.error
import urllib.request

import boto3
import botocore.exceptions

PORT, MOTO_URL, REGISTRY_URL, PASSWORD = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3].rstrip("/"), sys.argv[4]
CA_FILE = sys.argv[5] if len(sys.argv) > 5 else None
CONTEXT = ssl.create_default_context(cafile=CA_FILE) if CA_FILE else None
AUTH = "Basic " + base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()
MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]
ecr = boto3.client("ecr", endpoint_url=MOTO_URL, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
lock = threading.Lock()


def registry(method, path, body=None, content_type=None):
    request = urllib.request.Request(REGISTRY_URL + path, data=body, method=method)
    request.add_header("Authorization", AUTH)
    if content_type:
        request.add_header("Content-Type", content_type)
    if method == "GET":
        request.add_header("Accept", ", ".join(MANIFEST_TYPES))
    with urllib.request.urlopen(request, context=CONTEXT, timeout=10) as response:
        return response.read(), response.headers.get("Content-Type")


def mirror_put_image(request_body):
    """A successful PutImage on moto: put the same manifest into the registry."""
    data = json.loads(request_body)
    manifest = data["imageManifest"].encode()
    media_type = data.get("imageManifestMediaType") or json.loads(manifest).get("mediaType")
    reference = data.get("imageTag") or "sha256:" + hashlib.sha256(manifest).hexdigest()
    registry("PUT", f"/v2/{data['repositoryName']}/manifests/{reference}", manifest, media_type)


def mirror_registry_event(event):
    """A manifest pushed through the registry: tell moto about it."""
    target = event.get("target", {})
    if event.get("action") != "push" or target.get("mediaType") not in MANIFEST_TYPES:
        return
    repository, digest, tag = target["repository"], target["digest"], target.get("tag")
    manifest, media_type = registry("GET", f"/v2/{repository}/manifests/{digest}")
    arguments = dict(repositoryName=repository, imageManifest=manifest.decode(),
                     imageManifestMediaType=target["mediaType"], imageDigest=digest)
    if tag:
        arguments["imageTag"] = tag
    try:
        with lock:
            ecr.put_image(**arguments)
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code not in ("ImageAlreadyExistsException", "ImageTagAlreadyExistsException"):
            print(f"bridge: PutImage for {repository}:{tag or digest} failed: {code}", file=sys.stderr, flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, headers, payload):
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):
        payload = self.body()
        if self.path.startswith("/registry-events"):
            for event in json.loads(payload or b"{}").get("events", []):
                try:
                    mirror_registry_event(event)
                except Exception as error:  # keep the registry's queue moving; report in the log
                    print(f"bridge: event failed: {error!r}", file=sys.stderr, flush=True)
            return self.reply(200, [], b"")
        self.forward("POST", payload)

    def do_GET(self):
        self.forward("GET", None)

    def forward(self, method, payload):
        request = urllib.request.Request(MOTO_URL + self.path, data=payload, method=method)
        # Host and every other signed header go through unchanged, or SigV4 verification (moto with IAM enforced)
        # would see a different request than the client signed.
        for key, value in self.headers.items():
            if key.lower() not in ("content-length", "connection"):
                request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, headers, answer = response.status, response.getheaders(), response.read()
        except urllib.error.HTTPError as error:
            status, headers, answer = error.code, error.headers.items(), error.read()
        target = self.headers.get("X-Amz-Target", "")
        if status == 200 and target.endswith(".PutImage"):
            with lock:
                mirror_put_image(payload)
        self.reply(status, headers, answer)


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler)
print("ready", flush=True)
server.serve_forever()
