"""The local Amazon ECR: one process that is one image store, behaving as real ECR does where it is stricter than
distribution 2.8 and moto (docs/ecr-behaviour.md, which gives each behaviour's public source).

It runs moto (the ECR and STS APIs) in this process and Debian's docker-registry (the blob and manifest bytes) as
a child on a private loopback port, and puts two fronts before them (it is ECR Public too: see below):

* the API front (AWS_ENDPOINT_URL_ECR and _STS), forwarding every request to moto with its signed headers intact;
* the registry front, TLS on IP:443 under the real registry host names, forwarding to docker-registry.

Both fronts write to both stores on the request path, under one lock, before they answer: a manifest PUT through
the registry is in moto (DescribeImages, BatchGetImage) when the PUT is answered, and a PutImage tag is in the
registry (pullable) when the API answers. There are no notifications and nothing to wait for.

What ECR does and the fronts enforce (the section of docs/ecr-behaviour.md in brackets):
* strict manifest schema [§1]: config annotations, platform.features, media types with parameters, invalid JSON ->
  405 UNSUPPORTED (registry) or InvalidParameterException (PutImage);
* PutImage 10/s per account and region [§3], one budget for registry manifest PUTs and API PutImage calls ->
  429 TOOMANYREQUESTS "Rate exceeded" / ThrottlingException, no Retry-After;
* zero-byte uploads and digest mismatches [§7] -> 400 BLOB_UPLOAD_INVALID with ECR's wording;
* immutable tags with exclusion filters (wildcards) [§10] -> TAG_INVALID (registry), ImageTagAlreadyExistsException
  (PutImage, even for the same digest);
* token lifetime [§5]: after the configured seconds (12 h by default) since the last GetAuthorizationToken, or,
  for the next token issued only, after next_token_requests registry requests -> 403 DENIED "Your authorization
  token has expired. Reauthenticate and try again."; GetAuthorizationToken answers expiresAt = now + lifetime
  (moto says 2015). moto's token is the same string every time, so "a new token" is a new issue of it;
* a missing repository [§9]: the upload POST's connection is closed without an answer, anything else is 404
  NAME_UNKNOWN; nothing creates a repository on push;
* ECR's Basic challenge and no Docker-Content-Digest on manifest GET [§6];
* BatchCheckLayerAvailability answers from the registry's store (moto knows only layers of its own upload API):
  AVAILABLE with layerSize for a stored blob [§12], a MissingLayerDigest failure otherwise (counter layer_checks_api;
  the registry's own blob HEADs count as blob_heads);
* chunked uploads [§7]: PATCH answers 201, non-final parts under 5 MiB are refused; cross-repository mounts [§8]
  answer 202 with a fresh upload session unless blob mounting is switched on.
* BatchDeleteImage [§19]: at most 100 imageIds (InvalidParameterException); a manifest an index of the repository
  lists is refused with failure ImageReferencedByManifestList (also when the index goes in the same request), and
  so is removing its last tag; removing an image's last tag deletes the image (moto's rule too); every deleted id is
  in imageIds; the registry follows at once: a deleted image's manifest is deleted there, a removed tag unlinked
  (counter images_deleted_api);
* lifecycle policies [§17]: PutLifecyclePolicy refuses a policy ECR's rules refuse (ecr_lifecycle.py: priorities,
  tag statuses, at most four wildcards, count types, the text limit) with InvalidParameterException "Invalid
  parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ...'"
  (counter api_InvalidParameterException); moto stores the accepted ones;
* image scans are moto's (moto/ecr/models.py) [§14]: DescribeImageScanFindings answers ScanNotFoundException until
  StartImageScan ran for the image (as ECR does for an image pushed without scan-on-push), StartImageScan once a
  day per image (LimitExceededException after, as ECR's basic scanning), and the findings are those set through
  moto's own API, POST /moto-api/static/ecr/scan-finding-results, which the API front forwards like any request
  without an X-Amz-Target: the basic (`findings`) and the enhanced (`enhancedFindings`, status ACTIVE) shapes of
  the ECR API reference's DescribeImageScanFindings.

ECR Public (public.ecr.aws), in the same process (the code in ecr_public.py). moto has none, so the API front
answers every `X-Amz-Target: SpencerFrontendService.*` request itself, and a second docker-registry child with
`auth: token` holds the images, so distribution itself verifies every bearer token. Facts, with their sources
([API] = the ECR Public API reference, whose shapes and constraints are those of botocore's ecr-public 2020-10-30
model in the pinned venv; [§13] = docs/ecr-behaviour.md §13, ECR Public, which links the public pages):
* JSON 1.1, target prefix SpencerFrontendService, signing name ecr-public [API metadata]; the API exists only in
  us-east-1 [§13]: another region in the credential scope -> InvalidSignatureException "Credential should be scoped
  to a valid region.", another service -> "...scoped to correct service: 'ecr-public'.", no Authorization -> 403
  MissingAuthenticationTokenException (AWS common errors), an unknown operation -> UnknownOperationException;
* the caller's account is that of the access key in moto (IAM users; STS keys belong to the assumed role's
  account), else 123456789012. When moto enforces IAM (/moto-api/reset-auth), the signature is checked and each call
  authorized by moto's own policy evaluation (moto.iam.access_control.IAMRequest) for `ecr-public:<Operation>` on
  `arn:aws:ecr-public::<account>:repository/<name>` (`*` for GetAuthorizationToken and DescribeRegistries);
  GetAuthorizationToken also needs sts:GetServiceBearerToken on `*` [API GetAuthorizationToken; §13] ->
  AccessDeniedException "User: <arn> is not authorized to perform: <action> on resource: <resource> ...";
* operations GetAuthorizationToken (authorizationToken = base64 "AWS:<token>", a fresh random token each call, valid
  public_token_lifetime_seconds, 12 h by default [API]), DescribeRegistries (one registry per account; alias
  public_alias = ecr-ship-test for 123456789012, `a<account>` for others; status ACTIVE, primary and default),
  CreateRepository, DescribeRepositories, DeleteRepository (RepositoryNotEmptyException without force),
  Get/PutRepositoryCatalogData, DescribeImages (ImageNotFoundException for a missing imageId), DescribeImageTags,
  PutImage, BatchDeleteImage (the last tag of an image takes the image), BatchCheckLayerAvailability
  (MissingLayerDigest, InvalidLayerDigest); response members and error names as [API]; timestamps epoch seconds;
  repository ARN arn:aws:ecr-public::<account>:repository/<name> (no region) and URI public.ecr.aws/<alias>/<name>
  [§13]; maxResults 1-1000 with nextToken paging;
* grammars and limits [API], InvalidParameterException "Invalid parameter at '<member>' failed to satisfy
  constraint: ..." otherwise: registry alias [a-z][a-z0-9]+(?:[._-][a-z0-9]+)*, 2-50; repository name
  (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*, 2-205; catalog description <= 1024, aboutText and
  usageText <= 25600; architectures and operatingSystems at most 50 entries of 1-50 characters each, free text (the
  gallery shows ARM, ARM 64, x86, x86-64 and Linux, Windows as badges; other values are kept and returned [API
  RepositoryCatalogDataInput]); logoImageBlob (base64 on the wire) <= 512000 bytes, answered as a logoUrl served at
  https://public.ecr.aws/logo/<sha256>; tags: keys 1-128, values <= 256 (InvalidTagParameterException), at most 50
  (TooManyTagsException, whose documentation says 50 although the TagList shape allows 200); image tag 1-300;
  imageManifest 1-4194304;
* PutImage: the strict manifest schema [§1] (InvalidParameterException), the PutImage budget (its own bucket,
  ECR Public's rate is not documented: the private settings apply), ImageDigestDoesNotMatchException,
  LayersNotFoundException (missing blobs), ReferencedImagesNotFoundException (an index naming a missing manifest),
  ImageAlreadyExistsException when the tag already names that digest [API error list]; no tag immutability [§13];
* the registry public.ecr.aws (always in the certificate and the hosts file): distribution's challenge `Bearer
  realm="https://public.ecr.aws/token/",service="public.ecr.aws"[,scope=...]` [§13]; the token service GET
  /token/?service=...&scope=repository:<alias>/<repo>:pull,push (scope may repeat) takes Basic AWS:<token> of an
  unexpired GetAuthorizationToken (401 DENIED otherwise) or no Authorization (anonymous), and answers {token,
  access_token, expires_in, issued_at}: pull on any existing repository, push only on the caller's alias. Tokens
  are RS256 JWTs whose `x5c` header carries the stand-in's self-signed signing certificate, which is the
  registry's rootcertbundle (distribution 2.8 verifies x5c chains against it); they live an hour (unconfirmed);
* the front enforces what ECR does and distribution does not: a repository exists only by CreateRepository (404
  NAME_UNKNOWN for a valid token's request to any other, nothing is created on push); manifest PUTs (with push
  access) meet the strict schema, the size limit and the PutImage budget; zero-byte and mismatched uploads [§7];
  the chunked-upload quirks [§7] are private ECR's and do not apply. public_bearer_requests N: the next bearer token
  issued expires after N registry requests -> 401 UNAUTHORIZED with `WWW-Authenticate: Bearer realm=...,service=...,
  scope="repository:<name>:<actions>",error="invalid_token"`;
* one synchronous store: the API reads the public registry's storage (revision and tag links, blobs) and writes
  through the registry with a JWT it mints for the one repository, so a registry push is in DescribeImages when its
  PUT is answered and a PutImage tag is pullable when the API answers.

Control (on the API port): GET /stand-in/stats gives counters as JSON; POST /stand-in/config takes JSON with any of
put_image_rate, put_image_burst, token_lifetime_seconds, next_token_requests (the next token issued expires after
that many registry requests, later ones live their normal lifetime), blob_mounting, and for ECR Public
public_alias, public_token_lifetime_seconds, public_bearer_requests. Private ECR's counters: api_requests, api_call_<Operation> (every ECR API call received,
by its X-Amz-Target), api_<ErrorCode> (refused). ECR Public's counters: public_api_requests,
public_api_<Operation> (answered) and public_api_<ErrorCode> (refused), public_registry_requests,
public_token_exchanges, public_bearer_issued (_anonymous, _authenticated), public_bearer_refused,
public_bearer_expired_answers, public_put_image_api, public_basic_on_registry (Basic credentials sent to /v2/ of
public.ecr.aws instead of the realm), and credentials_on_wrong_host with its parts
public_credentials_on_private_host and private_credentials_on_public_host (credentials sent to a host they are not
for); registry_<CODE> counts refusals of both registries.

Usage: ecr_stand_in.py DIR IP [HOST...]   (HOST defaults to 123456789012.dkr.ecr.us-east-1.amazonaws.com)
Writes into DIR: env (KEY=VALUE lines for the binary, AWS_ENDPOINT_URL_ECR_PUBLIC among them), hosts (a hosts file
mapping every HOST and public.ecr.aws to IP), ca/ca.crt (the test CA alone), ca-bundle.pem (this machine's CAs plus
the test CA), ready.json (ports, written last), and both registries' data and logs (registry/, public-registry/).
Stops both docker-registries when it stops (SIGTERM, SIGINT, or its own death). With ECR_STAND_IN_TIMELINE=FILE
set, both fronts append one JSON line per request to FILE (front, method, path, API operation, status, arrival and
end of answer in wall-clock seconds, client port): the timeline bench/run draws its waterfalls from.
"""

import base64
import datetime
import fnmatch
import hashlib
import http.client
import http.server
import json
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from moto.backends import get_backend
from moto.server import ThreadedMotoServer

import ecr_lifecycle
import ecr_public

DEFAULT_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
DEFAULT_ACCOUNT, DEFAULT_REGION = "123456789012", "us-east-1"
HOST_PATTERN = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?::\d+)?$")
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
TOKEN_PATTERN = re.compile(r"^\d{12}-auth-token$")
MIN_PART = 5 * 1024 * 1024
MAX_MANIFEST = 4 * 1024 * 1024
CHUNK = 1024 * 1024
INVALID_JSON = "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'"
EXPIRED = "Your authorization token has expired. Reauthenticate and try again."
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server", "te", "trailer",
              "upgrade", "proxy-authorization", "proxy-authenticate"}


def log(message):
    print(f"ecr-stand-in: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# The shared state: settings, the PutImage budget, the token's age, counters and open uploads.

class State:
    def __init__(self, directory, registry_port):
        self.directory = directory
        self.registry_port = registry_port
        self.lock = threading.RLock()  # every write to the two stores
        self.settings = {"put_image_rate": 10.0, "put_image_burst": 10.0, "token_lifetime_seconds": 43200,
                         "next_token_requests": None, "blob_mounting": False}
        self.buckets = {}
        self.token_issued = time.monotonic()
        self.token_requests = 0
        self.token_request_limit = None
        self.uploads = {}
        self.stats = {}

    def count(self, key, amount=1):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + amount

    def configure(self, changes):
        with self.lock:
            for key, value in changes.items():
                if key not in self.settings:
                    raise KeyError(key)
                self.settings[key] = value
            self.buckets.clear()

    def take_put_image(self, account, region):
        """One PutImage from the account's budget (a token bucket); False when the call is throttled."""
        with self.lock:
            rate, burst = float(self.settings["put_image_rate"]), float(self.settings["put_image_burst"])
            now = time.monotonic()
            tokens, at = self.buckets.get((account, region), (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            allowed = tokens >= 1
            self.buckets[(account, region)] = (tokens - 1 if allowed else tokens, now)
        self.count("put_image_allowed" if allowed else "put_image_throttled")
        return allowed

    def token_issued_now(self):
        with self.lock:
            self.token_issued = time.monotonic()
            self.token_requests = 0
            self.token_request_limit = self.settings["next_token_requests"]
            self.settings["next_token_requests"] = None
        self.count("get_authorization_token")

    def token_expired(self):
        """Counts one registry request made with the token; True when the token's lifetime is over."""
        with self.lock:
            self.token_requests += 1
            limit = self.token_request_limit
            seconds = self.settings["token_lifetime_seconds"]
            return (limit is not None and self.token_requests > limit) or (
                seconds is not None and time.monotonic() - self.token_issued > seconds)


# ---------------------------------------------------------------------------------------------------------------
# What ECR refuses and decides, on both fronts.

def schema_problem(manifest_bytes):
    """Why ECR's manifest schema refuses these bytes, or None."""
    try:
        document = json.loads(manifest_bytes)
    except (ValueError, UnicodeDecodeError):
        return "invalid JSON"
    if not isinstance(document, dict):
        return "not a JSON object"
    media_types = [document.get("mediaType"), document.get("artifactType")]
    config = document.get("config")
    if isinstance(config, dict):
        media_types.append(config.get("mediaType"))
        if "annotations" in config:
            return "annotations on the config descriptor"
    for entry in document.get("layers") or []:
        if isinstance(entry, dict):
            media_types.append(entry.get("mediaType"))
    for entry in document.get("manifests") or []:
        if isinstance(entry, dict):
            media_types.append(entry.get("mediaType"))
            platform = entry.get("platform")
            if isinstance(platform, dict) and "features" in platform:
                return "platform.features in an index entry"
    for media_type in media_types:
        if isinstance(media_type, str) and ";" in media_type:
            return f"a media type with parameters ({media_type})"
    return None


def ecr_backend(account, region):
    return get_backend("ecr")[account][region]


def find_repository(account, region, name):
    return ecr_backend(account, region).repositories.get(name)


def tag_is_immutable(repository, tag):
    """ECR's rule: the base setting, inverted for tags matching an exclusion filter (wildcards, `*` only)."""
    mutability = str(getattr(repository.image_tag_mutability, "value", repository.image_tag_mutability))
    filters = repository.image_tag_mutability_exclusion_filters or []
    excluded = any(fnmatch.fnmatchcase(tag, f.get("filter", "")) for f in filters)
    if mutability in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        return not excluded
    if mutability == "MUTABLE_WITH_EXCLUSION":
        return excluded
    return False


def tagged_digest(repository, tag):
    for image in repository.images:
        if tag in image.image_tags:
            return image.get_image_digest()
    return None


def record_in_api(account, region, name, manifest_bytes, media_type, tag):
    """The registry side took a manifest: the API side holds it too before anyone is answered."""
    digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    backend = ecr_backend(account, region)
    repository = backend.repositories.get(name)
    if tag is None and any(image.get_image_digest() == digest for image in repository.images):
        return
    try:
        backend.put_image(name, manifest_bytes.decode(), tag, media_type, digest)
    except Exception as error:  # ImageAlreadyExists is the expected answer for an unchanged tag
        if "AlreadyExists" not in type(error).__name__:
            log(f"recording {name}:{tag or digest} in the API failed: {error!r}")


# ---------------------------------------------------------------------------------------------------------------
# HTTP plumbing shared by both fronts.

class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300
    state = None  # set on the subclass

    def log_message(self, *args):
        pass

    # The request timeline (ECR_STAND_IN_TIMELINE=FILE, for bench/run's waterfall): one JSON line per request, with
    # its arrival and the end of its answer in wall-clock seconds, and the client's port (a delay proxy's own port).
    timeline = None
    timeline_lock = threading.Lock()

    def parse_request(self):
        self.request_started = time.time()
        return super().parse_request()

    def send_response(self, code, message=None):
        self.answer_status = code
        super().send_response(code, message)

    def handle_one_request(self):
        self.request_started = None
        super().handle_one_request()
        if self.timeline is not None and self.request_started is not None:
            operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
            entry = {"front": self.front_name, "method": self.command, "path": self.path.split("?")[0],
                     "operation": operation, "status": getattr(self, "answer_status", None),
                     "start": self.request_started, "end": time.time(), "client_port": self.client_address[1]}
            with self.timeline_lock:
                self.timeline.write(json.dumps(entry) + "\n")
                self.timeline.flush()

    def read_body(self):
        """The whole request body (small requests only)."""
        return b"".join(self.body_chunks())

    def body_chunks(self):
        """The request body in pieces, whether it has a Content-Length or is chunked."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                remaining = size
                while remaining:
                    piece = self.rfile.read(min(remaining, CHUNK))
                    if not piece:
                        raise ConnectionError("the client closed the connection inside a chunk")
                    remaining -= len(piece)
                    yield piece
                self.rfile.readline()
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                piece = self.rfile.read(min(remaining, CHUNK))
                if not piece:
                    raise ConnectionError("the client closed the connection inside the body")
                remaining -= len(piece)
                yield piece

    def reply(self, status, headers=(), body=b"", head=False, length=None):
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def reply_json(self, status, document, headers=()):
        self.reply(status, [("Content-Type", "application/json; charset=utf-8"), *headers],
                   json.dumps(document).encode())

    def forward(self, port, method, path, headers, chunks=None, body=None):
        return forward(port, method, path, headers, chunks, body, self.timeout)


def forward(port, method, path, headers, chunks=None, body=None, timeout=300):
    """Sends the request to the upstream on `port`; returns (connection, response) with the body unread."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for key, value in headers:
        if key.lower() not in HOP_BY_HOP:
            connection.putheader(key, value)
    if chunks is not None:
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for piece in chunks:
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.send(b"0\r\n\r\n")
    else:
        payload = body or b""
        if method not in ("GET", "HEAD") or payload:
            connection.putheader("Content-Length", str(len(payload)))
        connection.endheaders()
        if payload:
            connection.send(payload)
    return connection, connection.getresponse()


# ---------------------------------------------------------------------------------------------------------------
# The API front: moto, with ECR's limits, and the registry kept in step.

class ApiFront(Front):
    front_name = "api"
    moto_port = None
    public = None  # the ecr_public.Public of this process

    def do_GET(self):
        if self.path.startswith("/stand-in/stats"):
            with self.state.lock:
                return self.reply_json(200, {**self.state.stats, "settings": self.state.settings})
        self.pass_through(None)

    def do_POST(self):
        body = self.read_body()
        if self.path.startswith("/stand-in/config"):
            try:
                self.state.configure(json.loads(body or b"{}"))
            except (KeyError, ValueError) as error:
                return self.reply_json(400, {"error": f"unknown or malformed setting: {error}"})
            return self.reply_json(200, self.state.settings)
        target = self.headers.get("X-Amz-Target", "")
        if target.startswith(ecr_public.TARGET_PREFIX):
            return self.public.handle_api(self, body)
        operation = target.rpartition(".")[2] if target.startswith("AmazonEC2ContainerRegistry") else None
        self.state.count("api_requests")
        if operation:
            self.state.count(f"api_call_{operation}")
        if operation == "PutImage":
            return self.put_image(body)
        if operation == "GetAuthorizationToken":
            return self.get_authorization_token(body)
        if operation == "PutLifecyclePolicy":
            return self.put_lifecycle_policy(body)
        if operation == "BatchDeleteImage":
            return self.batch_delete_image(body)
        if operation == "BatchCheckLayerAvailability":
            return self.batch_check_layer_availability(body)
        self.pass_through(body)

    def pass_through(self, body):
        status, headers, answer = self.forward_to_moto(body)
        self.reply(status, headers, answer)
        return status, answer

    def api_error(self, code, message, status=400):
        self.state.count(f"api_{code}")
        self.reply_json(status, {"__type": code, "message": message},
                        [("x-amzn-ErrorType", code), ("Content-Type", "application/x-amz-json-1.1")])

    def region(self):
        found = re.search(r"Credential=[^/]+/\d+/([a-z0-9-]+)/", self.headers.get("Authorization", ""))
        return found.group(1) if found else DEFAULT_REGION

    def get_authorization_token(self, body):
        connection, response = self.forward(self.moto_port, "POST", self.path, self.headers.items(), body=body)
        answer = response.read()
        connection.close()
        headers = response.getheaders()
        if response.status == 200:
            self.state.token_issued_now()
            seconds = self.state.settings["token_lifetime_seconds"] or 43200
            document = json.loads(answer)
            for entry in document.get("authorizationData", []):
                entry["expiresAt"] = time.time() + seconds
            answer = json.dumps(document).encode()
        self.reply(response.status, headers, answer)

    def put_image(self, body):
        try:
            request = json.loads(body)
            name, manifest_text = request["repositoryName"], request["imageManifest"]
        except (ValueError, KeyError, TypeError):
            return self.api_error("InvalidParameterException", "The request is missing repositoryName or imageManifest.")
        account, region, tag = request.get("registryId") or DEFAULT_ACCOUNT, self.region(), request.get("imageTag")
        manifest = manifest_text.encode()
        problem = schema_problem(manifest)
        if problem:
            self.state.count("unsupported_manifests")
            log(f"PutImage {name}: refused, {problem}")
            return self.api_error("InvalidParameterException", INVALID_JSON)
        if not self.state.take_put_image(account, region):
            return self.api_error("ThrottlingException", "Rate exceeded")
        with self.state.lock:
            repository = find_repository(account, region, name)
            if repository is None:
                return self.api_error("RepositoryNotFoundException", f"The repository with name '{name}' does not "
                                      f"exist in the registry with id '{account}'")
            if tag and tagged_digest(repository, tag) and tag_is_immutable(repository, tag):
                return self.api_error("ImageTagAlreadyExistsException", f"The image tag '{tag}' already exists in "
                                      f"the '{name}' repository and cannot be overwritten because the repository "
                                      "is immutable.")
            media_type = request.get("imageManifestMediaType") or json.loads(manifest).get("mediaType") or ""
            digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
            reference = tag or digest
            connection, response = self.forward(
                self.state.registry_port, "PUT", f"/v2/{name}/manifests/{reference}",
                [("Host", f"{account}.dkr.ecr.{region}.amazonaws.com"), ("Content-Type", media_type)], body=manifest)
            answer = response.read()
            connection.close()
            if response.status != 201:
                missing = [e.get("detail", {}).get("digest", "") for e in json.loads(answer or b"{}").get("errors", [])
                           if isinstance(e, dict) and e.get("code") == "MANIFEST_BLOB_UNKNOWN"]
                if missing:
                    return self.api_error("LayersNotFoundException", f"Layers with digests '{missing}' required for "
                                          f"pushing image into repository with name '{name}' in the registry with "
                                          f"id '{account}' do not exist")
                log(f"PutImage {name}:{reference}: the registry answered {response.status} {answer[:300]!r}")
                return self.api_error("ServerException", "The registry store refused the manifest.", 500)
            self.state.count("put_image_api")
            self.pass_through(body)

    def put_lifecycle_policy(self, body):
        # moto stores any text; ECR checks the policy against its rules first (ecr_lifecycle.py, §17).
        try:
            text = json.loads(body).get("lifecyclePolicyText")
        except (ValueError, AttributeError):
            text = None
        refused = ecr_lifecycle.refusal(text)
        if refused:
            log(f"PutLifecyclePolicy: refused, {refused}")
            return self.api_error("InvalidParameterException", refused)
        status, headers, answer = self.forward_to_moto(body)
        if status == 400 and b"InvalidParameterException" in answer:
            # moto's schema predates ECR's archive storage class (storageClass, transition, sinceImagePulled): what
            # ECR's rules accept (checked above) is stored as ECR would store it.
            request = json.loads(body)
            account = request.get("registryId") or DEFAULT_ACCOUNT
            repository = find_repository(account, self.region(), request.get("repositoryName"))
            if repository is not None:
                repository.lifecycle_policy = text
                return self.reply_json(200, {"registryId": account, "repositoryName": request["repositoryName"],
                                             "lifecyclePolicyText": text})
        self.reply(status, headers, answer)

    def batch_check_layer_availability(self, body):
        # ECR answers from the store the registry writes to; moto keeps layers only of its own upload API. So moto
        # checks the request (auth, repository, digest syntax), and the answer is the registry's.
        status, headers, answer = self.forward_to_moto(body)
        if status != 200:
            return self.reply(status, headers, answer)
        request = json.loads(body)
        name, account = request["repositoryName"], request.get("registryId") or DEFAULT_ACCOUNT
        layers, failures = [], []
        for digest in request.get("layerDigests", []):
            connection, response = self.forward(self.state.registry_port, "HEAD", f"/v2/{name}/blobs/{digest}",
                                                [("Host", f"{account}.dkr.ecr.{self.region()}.amazonaws.com")])
            response.read()
            connection.close()
            if response.status == 200:
                layers.append({"layerDigest": digest, "layerAvailability": "AVAILABLE",
                               "layerSize": int(response.getheader("Content-Length") or 0)})
            else:
                failures.append({"layerDigest": digest, "failureCode": "MissingLayerDigest",
                                 "failureReason": "Could not find layer"})
        self.state.count("layer_checks_api", len(layers) + len(failures))
        self.reply_json(200, {"layers": layers, "failures": failures, "registryId": account},
                        [("Content-Type", "application/x-amz-json-1.1")])

    def forward_to_moto(self, body):
        """moto's answer to this request, not yet passed on: (status, headers, body)."""
        connection, response = self.forward(self.moto_port, self.command, self.path, self.headers.items(), body=body)
        answer = response.read()
        connection.close()
        return response.status, response.getheaders(), answer

    def batch_delete_image(self, body):
        """ECR's BatchDeleteImage [§19]: at most 100 ids (InvalidParameterException), a manifest an index in the
        repository lists is not deleted (failure ImageReferencedByManifestList; an index deleted in the same request
        still counts), every deleted id is answered in imageIds (moto leaves out untagged images deleted by digest);
        then the registry follows: a digest gone from moto is deleted there, a tag gone is unlinked."""
        try:
            request = json.loads(body)
            name, ids = request["repositoryName"], request.get("imageIds") or []
            account = request.get("registryId") or DEFAULT_ACCOUNT
        except (ValueError, KeyError, TypeError, AttributeError):
            return self.pass_through(body)  # moto answers a malformed request
        if len(ids) > 100:
            return self.api_error("InvalidParameterException", "1 validation error detected: Value at 'imageIds' "
                                  "failed to satisfy constraint: Member must have length less than or equal to 100")
        with self.state.lock:
            repository = find_repository(account, self.region(), name)
            if repository is None:
                return self.pass_through(body)  # moto's RepositoryNotFoundException
            before = {image.get_image_digest(): list(image.image_tags) for image in repository.images}
            listed = {}
            for image in repository.images:
                try:
                    manifest = json.loads(image.image_manifest)
                except (ValueError, TypeError):
                    continue
                for entry in manifest.get("manifests") or [] if isinstance(manifest, dict) else []:
                    if isinstance(entry, dict) and entry.get("digest"):
                        listed.setdefault(entry["digest"], image.get_image_digest())
            refused, allowed = [], []
            for image_id in ids:
                target = image_id.get("imageDigest") if isinstance(image_id, dict) else None
                tag = image_id.get("imageTag") if isinstance(image_id, dict) else None
                if target is None and tag is not None:
                    target = next((d for d, tags in before.items() if tags == [tag]), None)  # its last tag
                if target in listed:
                    refused.append({"imageId": image_id, "failureCode": "ImageReferencedByManifestList",
                                    "failureReason": f"Requested image is referenced by an image index: "
                                                     f"{listed[target]}"})
                else:
                    allowed.append(image_id)
            if refused:
                # Part of the request is refused: moto deletes the rest (its own signature check is skipped, as
                # the body changed).
                result = {"imageIds": [], "failures": []}
                if allowed:
                    answer = ecr_backend(account, self.region()).batch_delete_image(name, account, allowed)
                    result = {"imageIds": [{"imageDigest": i.image_digest, **({"imageTag": i.image_tag}
                                            if i.image_tag else {})} for i in answer["imageIds"]],
                              "failures": answer["failures"]}
                status, headers = 200, [("Content-Type", "application/x-amz-json-1.1")]
            else:
                status, headers, answer = self.forward_to_moto(body)
                if status != 200:
                    return self.reply(status, headers, answer)
                result = json.loads(answer)
            result["failures"] = refused + result.get("failures", [])
            after = {image.get_image_digest(): list(image.image_tags) for image in repository.images}
            answered = {(i.get("imageDigest"), i.get("imageTag")) for i in result.get("imageIds", [])}
            for digest in before:
                if digest not in after and not any(d == digest for d, _ in answered):
                    result.setdefault("imageIds", []).append({"imageDigest": digest})
            self.state.count("images_deleted_api", sum(1 for d in before if d not in after))
            tags_dir = os.path.join(self.state.directory, "registry", "data", "docker", "registry", "v2",
                                    "repositories", name, "_manifests", "tags")
            for digest, tags in before.items():
                if digest not in after:
                    connection, response = self.forward(self.state.registry_port, "DELETE",
                                                        f"/v2/{name}/manifests/{digest}", [("Host", DEFAULT_HOST)])
                    response.read()
                    connection.close()
                for tag in tags:
                    if tag not in after.get(digest, []):
                        shutil.rmtree(os.path.join(tags_dir, tag), ignore_errors=True)
        self.reply_json(status, result, headers if refused else [("Content-Type", "application/x-amz-json-1.1")])


# ---------------------------------------------------------------------------------------------------------------
# The registry front: docker-registry, with ECR's auth, limits and answers.

REGISTRY_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?P<kind>blobs/uploads|blobs|manifests|tags)(?:/(?P<rest>[^?]*))?"
                           r"(?:\?(?P<query>.*))?$")


class RegistryFront(Front):
    front_name = "registry"
    public = None  # the ecr_public.Public of this process
    # Where a request goes: the private docker-registry (credentials stay here, ECR's upload-part rules apply) unless
    # route() chooses the public one.
    upstream_port = None
    keep_authorization = False
    part_rules = True

    def use_upstream(self, port, keep_authorization, part_rules):
        self.upstream_port, self.keep_authorization, self.part_rules = port, keep_authorization, part_rules

    def upstream_headers(self):
        headers = [(k, v) for k, v in self.headers.items() if self.keep_authorization or k.lower() != "authorization"]
        headers.append(("X-Forwarded-Proto", "https"))
        return headers

    def setup(self):
        super().setup()
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, ssl.SSLError, socket.timeout) as error:
            self.close_connection = True
            log(f"connection ended: {error!r}")

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_PATCH(self):
        self.route()

    def do_DELETE(self):
        self.route()

    def host_identity(self):
        host = self.headers.get("Host", DEFAULT_HOST)
        found = HOST_PATTERN.match(host)
        return (found.group(1), found.group(2), host) if found else (DEFAULT_ACCOUNT, DEFAULT_REGION, host)

    def registry_error(self, status, code, message, headers=()):
        self.state.count(f"registry_{code}")
        self.drain()
        self.reply_json(status, {"errors": [{"code": code, "message": message}]}, headers)

    def drain(self):
        if not getattr(self, "drained", False):
            self.drained = True
            for _ in self.body_chunks():
                pass

    def authorized(self, host):
        """Checks the Basic credentials as ECR does; answers and returns False when they don't pass."""
        # A token is the caller's, not the registry's: ECR takes it on every registry the caller may reach, so
        # moto's `<account>-auth-token` of any account passes (the one for another account's registry included).
        header = self.headers.get("Authorization", "")
        try:
            user, _, password = base64.b64decode(header.removeprefix("Basic "), validate=True).decode().partition(":")
        except ValueError:
            user, password = "", ""
        if not header.startswith("Basic ") or user != "AWS" or not TOKEN_PATTERN.match(password):
            challenge = f'Basic realm="https://{host}/",service="ecr.amazonaws.com"'
            self.registry_error(401, "DENIED", "Not Authorized", [("WWW-Authenticate", challenge)])
            return False
        if self.state.token_expired():
            self.state.count("expired_token_answers")
            self.registry_error(403, "DENIED", EXPIRED)
            return False
        return True

    def route(self):
        self.drained = False
        if self.headers.get("Host", DEFAULT_HOST).split(":")[0] == ecr_public.HOST:
            return self.public.handle_registry(self, REGISTRY_PATH, TOKEN_PATTERN)
        self.use_upstream(self.state.registry_port, keep_authorization=False, part_rules=True)
        self.state.count("registry_requests")
        account, region, host = self.host_identity()
        self.public.misplaced_on_private(self.headers.get("Authorization", ""))
        if not self.authorized(host):
            return
        if self.path.split("?")[0] in ("/v2", "/v2/"):
            return self.reply_json(200, {}, [("Docker-Distribution-API-Version", "registry/2.0")])
        found = REGISTRY_PATH.match(self.path)
        if not found:
            return self.registry_error(404, "NOT_FOUND", "The requested URL was not found.")
        name, kind, rest, query = found.group("name"), found.group("kind"), found.group("rest") or "", found.group(
            "query") or ""
        if find_repository(account, region, name) is None:
            if kind == "blobs/uploads" and self.command == "POST":
                # ECR ends an upload start to a missing repository without any answer.
                self.state.count("closed_missing_repository")
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            return self.registry_error(404, "NAME_UNKNOWN", f"The repository with name '{name}' does not exist in "
                                       f"the registry with id '{account}'")
        if kind == "manifests" and self.command == "PUT":
            return self.put_manifest(account, region, name, rest)
        if kind == "blobs/uploads":
            return self.upload(name, rest, query)
        if kind == "blobs" and self.command == "HEAD":
            self.state.count("blob_heads")
        self.pass_through(strip_digest=(kind == "manifests"))

    def pass_through(self, strip_digest=False, path=None, chunks=None, status_map=None):
        if chunks is None and self.command in ("PUT", "PATCH", "POST"):
            chunks = self.body_chunks()
        connection, response = self.forward(self.upstream_port, self.command, path or self.path,
                                            self.upstream_headers(), chunks=chunks)
        self.drained = True
        out = [(k, v) for k, v in response.getheaders()
               if not (strip_digest and k.lower() == "docker-content-digest")]
        status = (status_map or {}).get(response.status, response.status)
        head = self.command == "HEAD"
        length = response.getheader("Content-Length")
        if head or length is not None and int(length) > CHUNK:
            self.reply(status, out, head=True, length=int(length or 0))
            if not head:
                while piece := response.read(CHUNK):
                    self.wfile.write(piece)
        else:
            self.reply(status, out, response.read())
        connection.close()
        return response

    def upload(self, name, rest, query):
        uuid = rest.strip("/")
        if self.command == "POST":
            if not uuid:
                parameters = [p for p in query.split("&") if p]
                if not self.state.settings["blob_mounting"] and any(p.startswith("mount=") for p in parameters):
                    self.state.count("mounts_refused")
                    kept = [p for p in parameters if not p.startswith(("mount=", "from="))]
                    path = f"/v2/{name}/blobs/uploads/" + ("?" + "&".join(kept) if kept else "")
                    return self.track_start(self.pass_through(path=path))
                return self.track_start(self.pass_through())
        if self.command == "PATCH":
            return self.upload_part(uuid, final=False)
        if self.command == "PUT":
            return self.upload_part(uuid, final=True)
        self.pass_through()

    def track_start(self, response):
        self.state.count("upload_starts")
        location = response.getheader("Location") or ""
        uuid = location.split("?")[0].rstrip("/").rpartition("/")[2]
        with self.state.lock:
            self.state.uploads[uuid] = {"bytes": 0, "last_part": None}

    def upload_part(self, uuid, final):
        with self.state.lock:
            upload = self.state.uploads.setdefault(uuid, {"bytes": 0, "last_part": None})
        counted = {"size": 0}

        def counting():
            for piece in self.body_chunks():
                counted["size"] += len(piece)
                yield piece
            # Recorded once the body is in, before the answer goes out: a client may send the final PUT on another
            # connection the moment this part is answered.
            with self.state.lock:
                if counted["size"]:
                    upload["last_part"] = counted["size"]
                upload["bytes"] += counted["size"]

        body = counting()
        first = next(body, b"")
        has_body = bool(first)
        if self.part_rules and has_body and upload["last_part"] is not None and upload["last_part"] < MIN_PART:
            return self.registry_error(400, "BLOB_UPLOAD_INVALID",
                                       f"Layer part size must be at least {MIN_PART} bytes.")
        if final and not has_body and upload["bytes"] == 0:
            return self.registry_error(400, "BLOB_UPLOAD_INVALID", f"The upload with id '{uuid}' cannot be "
                                       "completed because it does not have any parts.")

        def rest():
            if first:
                yield first
            yield from body

        if final:
            response = self.forward_upload_end(rest())
        else:
            response = self.pass_through(chunks=rest(), status_map={202: 201} if self.part_rules else None)
        self.state.count("blob_bytes", counted["size"])
        return response

    def forward_upload_end(self, chunks):
        connection, response = self.forward(self.upstream_port, "PUT", self.path, self.upstream_headers(),
                                            chunks=chunks)
        self.drained = True
        answer = response.read()
        connection.close()
        if response.status == 400 and b"DIGEST_INVALID" in answer:
            return self.registry_error(400, "BLOB_UPLOAD_INVALID",
                                       "None of the provided layer digests match the calculated layer digest.")
        self.reply(response.status, response.getheaders(), answer)
        return response

    def checked_manifest(self, account, budget, name, reference):
        """A manifest PUT's body once ECR's size limit, strict schema and PutImage budget (of `account` in
        `budget`, a region or ECR Public) let it through; None when it was answered instead."""
        manifest = b""
        for piece in self.body_chunks():
            manifest += piece
            if len(manifest) > MAX_MANIFEST:
                self.drain()
                self.registry_error(400, "MANIFEST_INVALID", f"The manifest is larger than {MAX_MANIFEST} bytes.")
                return None
        self.drained = True
        problem = schema_problem(manifest)
        if problem:
            self.state.count("unsupported_manifests")
            log(f"PUT manifest {name}:{reference}: refused, {problem}")
            self.registry_error(405, "UNSUPPORTED", INVALID_JSON)
            return None
        if not self.state.take_put_image(account, budget):
            self.registry_error(429, "TOOMANYREQUESTS", "Rate exceeded")
            return None
        return manifest

    def forward_manifest(self, manifest):
        """Sends the checked manifest upstream and answers with the upstream's answer; returns its status."""
        connection, response = self.forward(self.upstream_port, "PUT", self.path, self.upstream_headers(),
                                            body=manifest)
        answer = response.read()
        connection.close()
        self.reply(response.status, response.getheaders(), answer)
        return response.status

    def put_manifest(self, account, region, name, reference):
        manifest = self.checked_manifest(account, region, name, reference)
        if manifest is None:
            return
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        tag = None if reference.startswith("sha256:") else reference
        with self.state.lock:
            repository = find_repository(account, region, name)
            current = tagged_digest(repository, tag) if tag else None
            if current and current != digest and tag_is_immutable(repository, tag):
                return self.registry_error(400, "TAG_INVALID", f"The image tag '{tag}' already exists in the "
                                           f"'{name}' repository and cannot be overwritten because the tag is "
                                           "immutable.")
            if self.forward_manifest(manifest) == 201:
                media_type = self.headers.get("Content-Type") or json.loads(manifest).get("mediaType")
                record_in_api(account, region, name, manifest, media_type, tag)
                self.state.count("manifest_puts")


# ---------------------------------------------------------------------------------------------------------------
# Start-up: certificates, docker-registry, moto, the fronts, and the files that tell clients where they are.

def make_certificates(directory, names, ip):
    import ipaddress
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ecr-ship stand-in CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    alternative = [x509.DNSName(n) for n in names] + [x509.DNSName("localhost"),
                                                       x509.IPAddress(ipaddress.ip_address(ip)),
                                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
              .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .sign(ca_key, hashes.SHA256()))
    os.makedirs(os.path.join(directory, "ca"), exist_ok=True)
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem)
    # The CA alone in a directory of its own: engines read every file of a cert dir (`*.key` as client keys).
    with open(os.path.join(directory, "ca", "ca.crt"), "wb") as f:
        f.write(ca_pem)
    with open(os.path.join(directory, "server.pem"), "wb") as f:
        f.write(server.public_bytes(pem) + key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
    system_bundle = "/etc/ssl/certs/ca-certificates.crt"
    with open(os.path.join(directory, "ca-bundle.pem"), "wb") as f:
        if os.path.exists(system_bundle):
            with open(system_bundle, "rb") as system:
                f.write(system.read())
        f.write(ca_pem)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(directory, name="registry", auth=""):
    """A docker-registry child on a free loopback port, its data and log in DIR/name; `auth` is an `auth:` line."""
    port = free_port()
    data = os.path.join(directory, name)
    os.makedirs(os.path.join(data, "data"), exist_ok=True)
    with open(os.path.join(data, "config.yml"), "w") as f:
        f.write(f"version: 0.1\nlog: {{ level: warn, accesslog: {{ disabled: false }} }}\n"
                f"storage: {{ filesystem: {{ rootdirectory: {data}/data }}, delete: {{ enabled: true }} }}\n"
                f"http: {{ addr: '127.0.0.1:{port}', secret: stand-in }}\n{auth}")
    libc = None
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        pass

    def die_with_parent():
        if libc is not None:
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    process = subprocess.Popen(["docker-registry", "serve", os.path.join(data, "config.yml")],
                               stdin=subprocess.DEVNULL, stdout=open(os.path.join(data, "registry.log"), "ab"),
                               stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/v2/")
            connection.getresponse().read()
            return process, port
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    raise SystemExit(f"ecr-stand-in: docker-registry did not start; see {data}/registry.log")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class TlsServer(Server):
    context = None

    def get_request(self):
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


def main():
    if len(sys.argv) < 3:
        raise SystemExit("usage: ecr_stand_in.py DIR IP [HOST...]")
    directory, ip = os.path.abspath(sys.argv[1]), sys.argv[2]
    names = sys.argv[3:] or [DEFAULT_HOST]
    os.makedirs(directory, exist_ok=True)
    # public.ecr.aws is always served, in the certificate and the hosts file, so every test namespace resolves it.
    make_certificates(directory, names + [ecr_public.HOST], ip)
    registry, registry_port = start_registry(directory)
    state = State(directory, registry_port)
    public = ecr_public.Public(state, directory, sys.modules[__name__])
    public_registry, public.registry_port = start_registry(directory, "public-registry", public.registry_auth())
    children = (registry, public_registry)

    def stop(*_, code=0):
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
        os._exit(code)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's own request log
    if os.environ.get("ECR_STAND_IN_TIMELINE"):
        Front.timeline = open(os.environ["ECR_STAND_IN_TIMELINE"], "a")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    moto_port = moto.get_host_and_port()[1]

    api_handler = type("Api", (ApiFront,), {"state": state, "moto_port": moto_port, "public": public})
    api = Server(("127.0.0.1", 0), api_handler)
    api_port = api.server_address[1]
    registry_handler = type("Registry", (RegistryFront,), {"state": state, "public": public})
    front = TlsServer((ip, 443), registry_handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(directory, "server.pem"))
    front.context = context
    for server in (api, front):
        threading.Thread(target=server.serve_forever, daemon=True).start()

    with open(os.path.join(directory, "hosts"), "w") as f:
        f.write(f"127.0.0.1 localhost\n{ip} {' '.join(names)} {ecr_public.HOST}\n")
    with open(os.path.join(directory, "env"), "w") as f:
        f.write(f"AWS_ENDPOINT_URL_ECR=http://127.0.0.1:{api_port}\nAWS_ENDPOINT_URL_STS=http://127.0.0.1:{api_port}\n"
                f"AWS_ENDPOINT_URL_ECR_PUBLIC=http://127.0.0.1:{api_port}\n"
                f"AWS_REGION={DEFAULT_REGION}\nAWS_ACCESS_KEY_ID=testing\nAWS_SECRET_ACCESS_KEY=testing\n"
                f"AWS_EC2_METADATA_DISABLED=true\nSSL_CERT_FILE={directory}/ca-bundle.pem\n")
    ready = {"api_port": api_port, "moto_port": moto_port, "registry_port": registry_port, "ip": ip,
             "hosts": names, "pid": os.getpid(), "registry_pid": registry.pid,
             "public_registry_port": public.registry_port, "public_registry_pid": public_registry.pid}
    with open(os.path.join(directory, "ready.json.tmp"), "w") as f:
        json.dump(ready, f)
    os.rename(os.path.join(directory, "ready.json.tmp"), os.path.join(directory, "ready.json"))
    log(f"ready: API http://127.0.0.1:{api_port}, registry https://{names[0]} ({ip}:443)")
    while True:
        if any(child.poll() is not None for child in children):
            log("a docker-registry stopped; stopping")
            stop(code=1)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
