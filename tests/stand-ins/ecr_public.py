"""ECR Public (public.ecr.aws) inside the ECR stand-in: the `ecr-public` API (SpencerFrontendService, JSON 1.1) on
the API port, and the registry `public.ecr.aws` with its Bearer token service on the TLS registry front.

ecr_stand_in.py owns the process, the CA, both fronts, the strict manifest schema and the PutImage budget; this module
owns what only ECR Public has, and is handed those shared pieces (it imports nothing from ecr_stand_in, which runs as
`__main__`). Its docstring of rules is the "ECR Public" part of ecr_stand_in.py's; the facts behind them, with their
public sources, are docs/ecr-behaviour.md §13 (and §1, §7 for the manifest schema and upload rules it shares).

The store is the second docker-registry child (`auth: token`, so distribution itself verifies every bearer token).
The API reads that registry's storage directory (revision links, tag links, blob data), which distribution writes
before it answers, and writes through the registry itself with a JWT it mints for the one repository: a push is in
DescribeImages when its PUT is answered, a PutImage tag is pullable when the API answers.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import secrets
import shutil
import time
import traceback
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

HOST = "public.ecr.aws"
REGION = "us-east-1"
SERVICE = "ecr-public"
TARGET_PREFIX = "SpencerFrontendService."
DEFAULT_ALIAS = "ecr-ship-test"
DEFAULT_ACCOUNT = "123456789012"
REALM = f"https://{HOST}/token/"
ISSUER = "ecr-stand-in-public-token-service"
BEARER_SECONDS = 3600
JSON_TYPE = "application/x-amz-json-1.1"
SETTINGS = {"public_alias": DEFAULT_ALIAS, "public_token_lifetime_seconds": 43200, "public_bearer_requests": None}

# The API reference's grammars and limits (botocore's ecr-public 2020-10-30 model, the same source);
# docs/ecr-behaviour.md §13 lists them with their public pages.
ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9]+(?:[._-][a-z0-9]+)*")
NAME_PATTERN = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
DIGEST_PATTERN = re.compile(r"[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+")
TEXT_LIMITS = {"description": 1024, "aboutText": 25600, "usageText": 25600}
LIST_LIMIT, ENTRY_LIMIT, LOGO_LIMIT = 50, 50, 512000
TAG_LIMIT, TAG_KEY_LIMIT, TAG_VALUE_LIMIT = 50, 128, 256
IMAGE_TAG_LIMIT, MANIFEST_LIMIT, IDS_LIMIT = 300, 4194304, 100
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
ANONYMOUS = None


class ApiError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def invalid(field, constraint):
    return ApiError("InvalidParameterException",
                    f"Invalid parameter at '{field}' failed to satisfy constraint: '{constraint}'")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_claims(token):
    """The claims of a JWT, unverified (the registry verifies; the fronts only look the token up)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None


def basic_credentials(header):
    """(user, password) of a Basic Authorization header, or None."""
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except ValueError:
        return None
    return user, password


def account_of_access_key(access_key):
    """The caller's account as moto knows it: IAM users' keys, and STS's temporary keys (moto files an assumed role's
    key under the role's account), else moto's default account."""
    try:
        from moto.iam.models import get_account_id_from
        return get_account_id_from(access_key)
    except Exception:  # an IAM backend not yet made
        return DEFAULT_ACCOUNT


class Public:
    def __init__(self, state, directory, shared):
        """`shared` holds ecr_stand_in's pieces: schema_problem, INVALID_JSON, forward, log."""
        self.state = state
        self.schema_problem, self.invalid_json = shared.schema_problem, shared.INVALID_JSON
        self.forward, self.log = shared.forward, shared.log
        state.settings.update(SETTINGS)
        self.directory = os.path.join(directory, "public-registry")
        self.storage = os.path.join(self.directory, "data", "docker", "registry", "v2")
        self.repositories = {}  # (account, name) -> record
        self.tokens = {}  # GetAuthorizationToken password -> (account, expiry, epoch seconds)
        self.bearers = {}  # jti -> {"requests", "limit", "account"}
        self.logos = {}  # sha256 hex -> bytes
        self.registry_port = None
        os.makedirs(self.directory, exist_ok=True)
        self.key, self.certificate = self.make_signing_key()

    # -----------------------------------------------------------------------------------------------------------
    # The token signing key: a self-signed RSA certificate, the registry's rootcertbundle; tokens carry it as x5c.

    def make_signing_key(self):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                       .serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(days=1))
                       .not_valid_after(now + datetime.timedelta(days=30))
                       .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                       .sign(key, hashes.SHA256()))
        with open(self.bundle_path(), "wb") as f:
            f.write(certificate.public_bytes(serialization.Encoding.PEM))
        return key, base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()

    def bundle_path(self):
        return os.path.join(self.directory, "token-signing.crt")

    def registry_auth(self):
        """The `auth:` section of the public docker-registry's configuration."""
        return (f"auth: {{ token: {{ realm: '{REALM}', service: '{HOST}', issuer: '{ISSUER}', "
                f"rootcertbundle: '{self.bundle_path()}' }} }}\n")

    def mint(self, account, access, limit=None):
        now = int(time.time())
        jti = secrets.token_hex(16)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.certificate]}
        claims = {"iss": ISSUER, "sub": account or "", "aud": HOST, "exp": now + BEARER_SECONDS, "nbf": now,
                  "iat": now, "jti": jti, "access": access}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        with self.state.lock:
            self.bearers[jti] = {"requests": 0, "limit": limit, "account": account, "access": access}
        return f"{signing_input}.{b64url(signature)}"

    # -----------------------------------------------------------------------------------------------------------
    # Aliases, repositories and the registry's storage.

    def alias(self, account):
        return self.state.settings["public_alias"] if account == DEFAULT_ACCOUNT else f"a{account}"

    def account_of_alias(self, alias):
        if alias == self.state.settings["public_alias"]:
            return DEFAULT_ACCOUNT
        found = re.fullmatch(r"a(\d{12})", alias)
        return found.group(1) if found else None

    def split_path_name(self, full_name):
        """(account, repository) of a registry name `<alias>/<repository>`, or None when no registry has it."""
        alias, _, name = full_name.partition("/")
        account = self.account_of_alias(alias)
        if account is None or (account, name) not in self.repositories:
            return None
        return account, name

    def repository(self, account, name):
        record = self.repositories.get((account, name))
        if record is None:
            raise ApiError("RepositoryNotFoundException", f"The repository with name '{name}' does not exist in the "
                           f"registry with id '{account}'")
        return record

    def repository_view(self, record):
        account, name = record["registryId"], record["repositoryName"]
        return {"repositoryArn": f"arn:aws:ecr-public::{account}:repository/{name}", "registryId": account,
                "repositoryName": name, "repositoryUri": f"{HOST}/{self.alias(account)}/{name}",
                "createdAt": record["createdAt"]}

    def repository_dir(self, account, name):
        return os.path.join(self.storage, "repositories", self.alias(account), name)

    def blob(self, digest):
        hex_digest = digest.partition(":")[2]
        with open(os.path.join(self.storage, "blobs", "sha256", hex_digest[:2], hex_digest, "data"), "rb") as f:
            return f.read()

    def images(self, account, name):
        """{digest: {"tags": {tag: created}, "pushed": seconds}} straight from the registry's storage."""
        manifests = os.path.join(self.repository_dir(account, name), "_manifests")
        found = {}
        revisions = os.path.join(manifests, "revisions", "sha256")
        for hex_digest in sorted(os.listdir(revisions)) if os.path.isdir(revisions) else []:
            link = os.path.join(revisions, hex_digest, "link")
            if os.path.exists(link):
                found[f"sha256:{hex_digest}"] = {"tags": {}, "pushed": os.path.getmtime(link)}
        tags = os.path.join(manifests, "tags")
        for tag in sorted(os.listdir(tags)) if os.path.isdir(tags) else []:
            link = os.path.join(tags, tag, "current", "link")
            try:
                with open(link) as f:
                    digest = f.read().strip()
            except OSError:
                continue
            if digest in found:
                found[digest]["tags"][tag] = os.path.getmtime(link)
        return found

    def image_detail(self, account, name, digest, info):
        document = json.loads(self.blob(digest))
        media_type = document.get("mediaType") or (INDEX_TYPES[0] if "manifests" in document else
                                                   "application/vnd.oci.image.manifest.v1+json")
        detail = {"registryId": account, "repositoryName": name, "imageDigest": digest,
                  "imageTags": list(info["tags"]), "imagePushedAt": info["pushed"],
                  "imageManifestMediaType": media_type}
        entries = document.get("layers") or document.get("manifests") or []
        config = document.get("config") if isinstance(document.get("config"), dict) else None
        detail["imageSizeInBytes"] = sum(int(e.get("size", 0)) for e in entries if isinstance(e, dict)) + (
            int(config.get("size", 0)) if config else 0)
        if config and config.get("mediaType"):
            detail["artifactMediaType"] = config["mediaType"]
        return detail

    def registry_call(self, account, name, method, reference, headers=(), body=None):
        """One request to the public docker-registry with a token for just this repository: (status, body)."""
        full_name = f"{self.alias(account)}/{name}"
        token = self.mint(account, [{"type": "repository", "name": full_name, "actions": ["pull", "push", "delete"]}])
        connection, response = self.forward(
            self.registry_port, method, f"/v2/{full_name}/manifests/{reference}",
            [("Host", HOST), ("Authorization", f"Bearer {token}"), ("X-Forwarded-Proto", "https"), *headers],
            body=body)
        answer = response.read()
        connection.close()
        return response.status, answer

    # -----------------------------------------------------------------------------------------------------------
    # The API: SpencerFrontendService.

    def handle_api(self, front, body):
        self.state.count("public_api_requests")
        operation = front.headers.get("X-Amz-Target", "")[len(TARGET_PREFIX):]
        request_id = str(uuid.uuid4())
        try:
            account, iam_request = self.authenticate(front, body, operation)
            handler = getattr(self, f"op_{operation}", None) if operation.isalnum() else None
            if handler is None:
                raise ApiError("UnknownOperationException", "")
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = None
            if not isinstance(request, dict):
                raise ApiError("SerializationException", "Start of structure or map found where not expected.")
            self.authorize(iam_request, operation, account, request)
            try:
                result = handler(account, request)
            except ApiError:
                raise
            except Exception as error:  # a stand-in bug answers as AWS's own failures do, and is logged
                self.log(f"public {operation} failed: {traceback.format_exc()}")
                raise ApiError("ServerException", f"The stand-in failed: {error!r}", 500)
        except ApiError as error:
            self.state.count(f"public_api_{error.code}")
            document = {"__type": error.code, "message": error.message} if error.message else {"__type": error.code}
            return front.reply(error.status, [("Content-Type", JSON_TYPE), ("x-amzn-ErrorType", error.code),
                                              ("x-amzn-RequestId", request_id)], json.dumps(document).encode())
        self.state.count(f"public_api_{operation}")
        front.reply(200, [("Content-Type", JSON_TYPE), ("x-amzn-RequestId", request_id)], json.dumps(result).encode())

    def authenticate(self, front, body, operation):
        """The caller's account and, when moto enforces IAM, moto's IAMRequest for the call (signature checked)."""
        header = front.headers.get("Authorization", "")
        if not header:
            raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        found = re.match(r"AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/,]+)/([^/,]+)/aws4_request", header)
        if not found:
            raise ApiError("IncompleteSignatureException", f"Authorization header requires 'Credential' parameter. "
                           f"Authorization={header.split(' ')[0]}")
        access_key, _, region, service = found.groups()
        if region != REGION:
            raise ApiError("InvalidSignatureException", "Credential should be scoped to a valid region.")
        if service != SERVICE:
            raise ApiError("InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'.")
        account = account_of_access_key(access_key)
        from moto import settings as moto_settings
        from moto.core.authorization import ActionAuthenticatorMixin
        if ActionAuthenticatorMixin.request_count < moto_settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1  # moto counts every call before it starts enforcing
            return account, None
        from moto.core.exceptions import InvalidClientTokenIdError, SignatureDoesNotMatchError
        from moto.iam.access_control import IAMRequest
        try:
            # moto looks headers up by their canonical spelling (X-Amz-Date), which werkzeug gives it in moto's own
            # server; the Rust SDK sends them in lower case, so spell them canonically (SigV4 ignores the case).
            canonical = {"-".join(part.capitalize() for part in key.split("-")): value
                         for key, value in front.headers.items()}
            iam_request = IAMRequest(account_id=account, method="POST", path=front.path, data={}, body=body,
                                     headers=canonical, action=operation or "Unknown")
            iam_request.check_signature()
        except InvalidClientTokenIdError:
            raise ApiError("UnrecognizedClientException", "The security token included in the request is invalid.")
        except SignatureDoesNotMatchError:
            raise ApiError("InvalidSignatureException", "The request signature we calculated does not match the "
                           "signature you provided. Check your AWS Secret Access Key and signing method. Consult the "
                           "service documentation for details.")
        return account, iam_request

    def authorize(self, iam_request, operation, account, request):
        if iam_request is None:
            return
        from moto.core.exceptions import AccessDeniedError
        registry = request.get("registryId") or account
        if operation in ("GetAuthorizationToken", "DescribeRegistries", "GetRegistryCatalogData"):
            checks = [(f"ecr-public:{operation}", "*")]
            if operation == "GetAuthorizationToken":
                checks.append(("sts:GetServiceBearerToken", "*"))
        elif operation == "DescribeRepositories" and not request.get("repositoryNames"):
            checks = [(f"ecr-public:{operation}", f"arn:aws:ecr-public::{registry}:repository/*")]
        else:
            names = request.get("repositoryNames") or [request.get("repositoryName", "")]
            checks = [(f"ecr-public:{operation}", f"arn:aws:ecr-public::{registry}:repository/{n}") for n in names]
        for action, resource in checks:
            iam_request._action = action  # moto's IAMRequest names its action after the signing service
            try:
                iam_request.check_action_permitted(resource)
            except AccessDeniedError:
                raise ApiError("AccessDeniedException", f"User: {iam_request._access_key.arn} is not authorized to "
                               f"perform: {action} on resource: {resource} because no identity-based policy allows "
                               f"the {action} action")

    # The operations. Each validates as the API reference says and answers its response shape.

    def op_GetAuthorizationToken(self, account, request):
        token = secrets.token_urlsafe(48)
        expires = time.time() + float(self.state.settings["public_token_lifetime_seconds"])
        with self.state.lock:
            self.tokens[token] = (account, expires)
        return {"authorizationData": {"authorizationToken": base64.b64encode(f"AWS:{token}".encode()).decode(),
                                      "expiresAt": expires}}

    def op_DescribeRegistries(self, account, request):
        self.page_size(request)
        alias = self.alias(account)
        return {"registries": [{
            "registryId": account, "registryArn": f"arn:aws:ecr-public::{account}:registry/{account}",
            "registryUri": f"{HOST}/{alias}", "verified": False,
            "aliases": [{"name": alias, "status": "ACTIVE", "primaryRegistryAlias": True,
                         "defaultRegistryAlias": True}]}]}

    def op_CreateRepository(self, account, request):
        name = self.checked_name(request)
        catalog = self.checked_catalog(request.get("catalogData") or {}, "catalogData")
        tags = self.checked_tags(request.get("tags") or [])
        with self.state.lock:
            if (account, name) in self.repositories:
                raise ApiError("RepositoryAlreadyExistsException", f"The repository with name '{name}' already "
                               f"exists in the registry with id '{account}'")
            record = {"registryId": account, "repositoryName": name, "createdAt": time.time(), "catalog": catalog,
                      "tags": tags}
            self.repositories[(account, name)] = record
            # The registry knows the repository from now on (an empty tag list, MANIFEST_UNKNOWN for a missing tag).
            for sub in ("tags", os.path.join("revisions", "sha256")):
                os.makedirs(os.path.join(self.repository_dir(account, name), "_manifests", sub), exist_ok=True)
        return {"repository": self.repository_view(record), "catalogData": self.catalog_view(record)}

    def op_DescribeRepositories(self, account, request):
        registry = request.get("registryId") or account
        names = request.get("repositoryNames")
        if names is not None and (not isinstance(names, list) or not 1 <= len(names) <= IDS_LIMIT):
            raise invalid("repositoryNames", f"Member must have length between 1 and {IDS_LIMIT}")
        with self.state.lock:
            if names:
                records = [self.repository(registry, self.checked_name({"repositoryName": n})) for n in names]
            else:
                records = [r for (a, _), r in sorted(self.repositories.items()) if a == registry]
            views = [self.repository_view(r) for r in records]
        items, token = self.page(views, request)
        return {"repositories": items, **token}

    def op_DeleteRepository(self, account, request):
        name, registry = self.checked_name(request), request.get("registryId") or account
        with self.state.lock:
            record = self.repository(registry, name)
            if self.images(registry, name) and not request.get("force"):
                raise ApiError("RepositoryNotEmptyException", f"The repository with name '{name}' in registry with "
                               f"id '{registry}' cannot be deleted because it still contains images")
            del self.repositories[(registry, name)]
            shutil.rmtree(self.repository_dir(registry, name), ignore_errors=True)
        return {"repository": self.repository_view(record)}

    def op_GetRepositoryCatalogData(self, account, request):
        name = self.checked_name(request)
        with self.state.lock:
            return {"catalogData": self.catalog_view(self.repository(request.get("registryId") or account, name))}

    def op_PutRepositoryCatalogData(self, account, request):
        name = self.checked_name(request)
        if not isinstance(request.get("catalogData"), dict):
            raise invalid("catalogData", "Member must not be null")
        catalog = self.checked_catalog(request["catalogData"], "catalogData")
        with self.state.lock:
            record = self.repository(request.get("registryId") or account, name)
            record["catalog"] = catalog
            return {"catalogData": self.catalog_view(record)}

    def op_DescribeImages(self, account, request):
        name, registry = self.checked_name(request), request.get("registryId") or account
        image_ids = self.checked_image_ids(request, required=False)
        with self.state.lock:
            self.repository(registry, name)
            images = self.images(registry, name)
            if image_ids is None:
                chosen = list(images)
            else:
                chosen = []
                for image_id in image_ids:
                    digest = self.resolve(images, image_id)
                    if digest is None:
                        raise ApiError("ImageNotFoundException", f"The image with imageId {self.id_text(image_id)} "
                                       f"does not exist within the repository with name '{name}' in the registry "
                                       f"with id '{registry}'")
                    if digest not in chosen:
                        chosen.append(digest)
            details = [self.image_detail(registry, name, d, images[d]) for d in chosen]
        items, token = self.page(details, request)
        return {"imageDetails": items, **token}

    def op_DescribeImageTags(self, account, request):
        name, registry = self.checked_name(request), request.get("registryId") or account
        with self.state.lock:
            self.repository(registry, name)
            tag_details = []
            for digest, info in self.images(registry, name).items():
                detail = self.image_detail(registry, name, digest, info)
                referenced = {k: detail[k] for k in ("imageDigest", "imageSizeInBytes", "imagePushedAt",
                                                     "imageManifestMediaType", "artifactMediaType") if k in detail}
                for tag, created in info["tags"].items():
                    tag_details.append({"imageTag": tag, "createdAt": created, "imageDetail": referenced})
        tag_details.sort(key=lambda d: d["imageTag"])
        items, token = self.page(tag_details, request)
        return {"imageTagDetails": items, **token}

    def op_PutImage(self, account, request):
        name, registry = self.checked_name(request), request.get("registryId") or account
        text = request.get("imageManifest")
        if not isinstance(text, str) or not 1 <= len(text) <= MANIFEST_LIMIT:
            raise invalid("imageManifest", f"Member must have length between 1 and {MANIFEST_LIMIT}")
        tag = request.get("imageTag")
        if tag is not None and (not isinstance(tag, str) or not 1 <= len(tag) <= IMAGE_TAG_LIMIT):
            raise invalid("imageTag", f"Member must have length between 1 and {IMAGE_TAG_LIMIT}")
        with self.state.lock:
            self.repository(registry, name)
        manifest = text.encode()
        problem = self.schema_problem(manifest)
        if problem:
            self.state.count("unsupported_manifests")
            self.log(f"public PutImage {name}: refused, {problem}")
            raise ApiError("InvalidParameterException", self.invalid_json)
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        if request.get("imageDigest") and request["imageDigest"] != digest:
            raise ApiError("ImageDigestDoesNotMatchException", f"Invalid parameter at 'imageDigest' failed to "
                           f"satisfy constraint: 'The provided digest {request['imageDigest']} does not match the "
                           f"digest {digest} calculated for the manifest'")
        document = json.loads(manifest)
        media_type = request.get("imageManifestMediaType") or document.get("mediaType") or (
            INDEX_TYPES[0] if "manifests" in document else "application/vnd.oci.image.manifest.v1+json")
        if not self.state.take_put_image(registry, SERVICE):
            raise ApiError("ThrottlingException", "Rate exceeded")
        with self.state.lock:
            current = self.images(registry, name)
            if tag and current.get(digest, {}).get("tags", {}).get(tag) is not None:
                raise ApiError("ImageAlreadyExistsException", f"Image with digest '{digest}' and tag '{tag}' already "
                               f"exists in the repository with name '{name}' in registry with id '{registry}'")
            status, answer = self.registry_call(registry, name, "PUT", tag or digest,
                                                [("Content-Type", media_type)], manifest)
        if status != 201:
            errors = json.loads(answer or b"{}").get("errors", []) if answer.startswith(b"{") else []
            missing = [detail if isinstance(detail, str) else (detail or {}).get("digest", "")
                       for detail in (e.get("detail") for e in errors
                                      if isinstance(e, dict) and e.get("code") == "MANIFEST_BLOB_UNKNOWN")]
            if missing and media_type in INDEX_TYPES:
                raise ApiError("ReferencedImagesNotFoundException", f"Manifest list references images that do not "
                               f"exist: '{missing}' in repository with name '{name}' in the registry with id "
                               f"'{registry}'")
            if missing:
                raise ApiError("LayersNotFoundException", f"Layers with digests '{missing}' required for pushing "
                               f"image into repository with name '{name}' in the registry with id '{registry}' do "
                               "not exist")
            self.log(f"public PutImage {name}:{tag or digest}: the registry answered {status} {answer[:300]!r}")
            if status == 400:
                raise ApiError("InvalidParameterException", f"Invalid parameter at 'imageManifest' failed to satisfy "
                               f"constraint: '{errors[0].get('message') if errors else 'invalid manifest'}'")
            raise ApiError("ServerException", "The registry store refused the manifest.", 500)
        self.state.count("public_put_image_api")
        image_id = {"imageDigest": digest, **({"imageTag": tag} if tag else {})}
        return {"image": {"registryId": registry, "repositoryName": name, "imageId": image_id,
                          "imageManifest": text, "imageManifestMediaType": media_type}}

    def op_BatchDeleteImage(self, account, request):
        name, registry = self.checked_name(request), request.get("registryId") or account
        image_ids = self.checked_image_ids(request, required=True)
        deleted, failures = [], []
        with self.state.lock:
            self.repository(registry, name)
            tags_dir = os.path.join(self.repository_dir(registry, name), "_manifests", "tags")
            for image_id in image_ids:
                images = self.images(registry, name)
                digest = self.resolve(images, image_id)
                if digest is None:
                    failure = ("MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be "
                               "null") if not image_id.get("imageDigest") and not image_id.get("imageTag") else (
                        "ImageNotFound", "Requested image not found")
                    failures.append({"imageId": image_id, "failureCode": failure[0], "failureReason": failure[1]})
                    continue
                tag = image_id.get("imageTag")
                if tag:
                    shutil.rmtree(os.path.join(tags_dir, tag), ignore_errors=True)
                if not tag or not self.images(registry, name)[digest]["tags"]:
                    # The last tag of an image goes with the image (as in private ECR).
                    self.registry_call(registry, name, "DELETE", digest)
                deleted.append(image_id)
        return {"imageIds": deleted, "failures": failures}

    def op_BatchCheckLayerAvailability(self, account, request):
        name, registry = self.checked_name(request), request.get("registryId") or account
        digests = request.get("layerDigests")
        if not isinstance(digests, list) or not 1 <= len(digests) <= IDS_LIMIT:
            raise invalid("layerDigests", f"Member must have length between 1 and {IDS_LIMIT}")
        layers, failures = [], []
        with self.state.lock:
            self.repository(registry, name)
            layers_dir = os.path.join(self.repository_dir(registry, name), "_layers")
            for digest in digests:
                if not isinstance(digest, str) or not DIGEST_PATTERN.fullmatch(digest):
                    failures.append({"layerDigest": digest, "failureCode": "InvalidLayerDigest",
                                     "failureReason": "Invalid layer digest"})
                    continue
                algorithm, _, hex_digest = digest.partition(":")
                if not os.path.exists(os.path.join(layers_dir, algorithm, hex_digest, "link")):
                    failures.append({"layerDigest": digest, "failureCode": "MissingLayerDigest",
                                     "failureReason": "Could not find image layer"})
                    continue
                layers.append({"layerDigest": digest, "layerAvailability": "AVAILABLE",
                               "layerSize": len(self.blob(digest))})
        return {"layers": layers, "failures": failures}

    # Validation helpers: the API reference's constraints, InvalidParameterException otherwise.

    def checked_name(self, request):
        name = request.get("repositoryName")
        if not isinstance(name, str) or not 2 <= len(name) <= 205:
            raise invalid("repositoryName", "Member must have length between 2 and 205")
        if not NAME_PATTERN.fullmatch(name):
            raise invalid("repositoryName", f"must satisfy regular expression '{NAME_PATTERN.pattern}'")
        return name

    def checked_catalog(self, catalog, field):
        if not isinstance(catalog, dict):
            raise invalid(field, "Member must be a structure")
        known = set(TEXT_LIMITS) | {"architectures", "operatingSystems", "logoImageBlob"}
        for key in catalog:
            if key not in known:
                raise ApiError("SerializationException", f"Unknown member {key} in {field}")
        checked = {}
        for key, limit in TEXT_LIMITS.items():
            if key in catalog:
                if not isinstance(catalog[key], str) or len(catalog[key]) > limit:
                    raise invalid(f"{field}.{key}", f"Member must have length less than or equal to {limit}")
                checked[key] = catalog[key]
        for key in ("architectures", "operatingSystems"):
            if key in catalog:
                values = catalog[key]
                if not isinstance(values, list) or len(values) > LIST_LIMIT:
                    raise invalid(f"{field}.{key}", f"Member must have length less than or equal to {LIST_LIMIT}")
                for value in values:
                    if not isinstance(value, str) or not 1 <= len(value) <= ENTRY_LIMIT:
                        raise invalid(f"{field}.{key}.member", f"Member must have length between 1 and {ENTRY_LIMIT}")
                checked[key] = list(values)
        if "logoImageBlob" in catalog:
            try:
                logo = base64.b64decode(catalog["logoImageBlob"], validate=True)
            except (ValueError, TypeError):
                raise ApiError("SerializationException", "Base64 encoded blob expected for logoImageBlob")
            if len(logo) > LOGO_LIMIT:
                raise invalid(f"{field}.logoImageBlob", f"Member must have length less than or equal to {LOGO_LIMIT}")
            digest = hashlib.sha256(logo).hexdigest()
            with self.state.lock:
                self.logos[digest] = logo
            checked["logoUrl"] = f"https://{HOST}/logo/{digest}"
        return checked

    def catalog_view(self, record):
        return {**record["catalog"], "marketplaceCertified": False}

    def checked_tags(self, tags):
        if not isinstance(tags, list) or len(tags) > TAG_LIMIT:
            raise ApiError("TooManyTagsException", f"The list of tags on the repository is over the limit. The "
                           f"maximum number of tags that can be applied to a repository is {TAG_LIMIT}.")
        for tag in tags:
            key, value = (tag.get("Key"), tag.get("Value", "")) if isinstance(tag, dict) else (None, None)
            if not isinstance(key, str) or not 1 <= len(key) <= TAG_KEY_LIMIT or not isinstance(value, str) or len(
                    value) > TAG_VALUE_LIMIT:
                raise ApiError("InvalidTagParameterException", "An invalid parameter has been specified. Tag keys "
                               "can have a maximum character length of 128 characters, and tag values can have a "
                               "maximum length of 256 characters.")
        return tags

    def checked_image_ids(self, request, required):
        image_ids = request.get("imageIds")
        if image_ids is None and not required:
            return None
        if not isinstance(image_ids, list) or not 1 <= len(image_ids) <= IDS_LIMIT or not all(
                isinstance(i, dict) for i in image_ids):
            raise invalid("imageIds", f"Member must have length between 1 and {IDS_LIMIT}")
        return image_ids

    @staticmethod
    def resolve(images, image_id):
        digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
        if tag:
            by_tag = next((d for d, info in images.items() if tag in info["tags"]), None)
            return by_tag if by_tag and (not digest or digest == by_tag) else None
        return digest if digest in images else None

    @staticmethod
    def id_text(image_id):
        return f"{{imageDigest:'{image_id.get('imageDigest', 'null')}', imageTag:'{image_id.get('imageTag', 'null')}'}}"

    @staticmethod
    def page_size(request):
        size = request.get("maxResults")
        if size is not None and (not isinstance(size, int) or not 1 <= size <= 1000):
            raise invalid("maxResults", "Member must have value between 1 and 1000")
        return size

    def page(self, items, request):
        size = self.page_size(request) or 1000
        start = 0
        if request.get("nextToken"):
            try:
                start = int(base64.b64decode(request["nextToken"]).decode())
            except ValueError:
                raise invalid("nextToken", "Invalid pagination token")
        chunk = items[start:start + size]
        more = start + size < len(items)
        return chunk, ({"nextToken": base64.b64encode(str(start + size).encode()).decode()} if more else {})

    # -----------------------------------------------------------------------------------------------------------
    # The registry side, on the registry front (which routes the Host public.ecr.aws here).

    def misplaced_on_private(self, header):
        """Counts public credentials (a GetAuthorizationToken password, a bearer token of ours) sent to a private
        registry host."""
        credentials = basic_credentials(header)
        claims = jwt_claims(header[7:]) if header.startswith("Bearer ") else None
        if (credentials and credentials[1] in self.tokens) or (claims and claims.get("iss") == ISSUER):
            self.state.count("credentials_on_wrong_host")
            self.state.count("public_credentials_on_private_host")

    def handle_registry(self, front, registry_path, private_token):
        state = self.state
        state.count("public_registry_requests")
        header = front.headers.get("Authorization", "")
        credentials = basic_credentials(header)
        if credentials and private_token.match(credentials[1]):
            state.count("credentials_on_wrong_host")
            state.count("private_credentials_on_public_host")
        path = front.path
        if path.split("?")[0] in ("/token", "/token/"):
            return self.token_service(front, credentials, header)
        if path.startswith("/logo/") and front.command in ("GET", "HEAD"):
            logo = self.logos.get(path[len("/logo/"):])
            if logo is None:
                return front.registry_error(404, "NOT_FOUND", "The requested URL was not found.")
            return front.reply(200, [("Content-Type", "image/png")], logo, head=front.command == "HEAD")
        if not path.startswith("/v2"):
            return front.registry_error(404, "NOT_FOUND", "The requested URL was not found.")
        if header.startswith("Basic "):
            state.count("public_basic_on_registry")
        found = registry_path.match(path)
        record = None
        if header.startswith("Bearer "):
            claims = jwt_claims(header[7:]) or {}
            with state.lock:
                record = self.bearers.get(claims.get("jti"))
                if record is not None:
                    record["requests"] += 1
        if record is not None:
            if record["limit"] is not None and record["requests"] > record["limit"]:
                state.count("public_bearer_expired_answers")
                scope = ""
                if found:
                    actions = "pull" if front.command in ("GET", "HEAD") else "pull,push"
                    scope = f',scope="repository:{found.group("name")}:{actions}"'
                challenge = f'Bearer realm="{REALM}",service="{HOST}"{scope},error="invalid_token"'
                return front.registry_error(401, "UNAUTHORIZED", "authentication required",
                                            [("WWW-Authenticate", challenge)])
            if found and self.split_path_name(found.group("name")) is None:
                name = found.group("name")
                alias, _, repository = name.partition("/")
                owner = self.account_of_alias(alias) or "unknown"
                return front.registry_error(404, "NAME_UNKNOWN", f"The repository with name '{repository}' does not "
                                            f"exist in the registry with id '{owner}'")
        front.use_upstream(self.registry_port, keep_authorization=True, part_rules=False)
        if not found:
            return front.pass_through()
        kind, rest, query = found.group("kind"), found.group("rest") or "", found.group("query") or ""
        pushes = record is not None and any(a["name"] == found.group("name") and "push" in a["actions"]
                                            for a in record["access"])
        if kind == "manifests" and front.command == "PUT" and pushes:
            # ECR's checks for a PUT the registry will take (one it refuses for want of push access spends nothing).
            owner = self.split_path_name(found.group("name"))
            manifest = front.checked_manifest(owner[0] if owner else DEFAULT_ACCOUNT, SERVICE, found.group("name"),
                                              rest)
            if manifest is None:
                return
            with state.lock:
                front.forward_manifest(manifest)
            return
        if kind == "blobs/uploads":
            return front.upload(found.group("name"), rest, query)
        front.pass_through()

    def token_service(self, front, credentials, header):
        """GET /token/?service=public.ecr.aws&scope=repository:<alias>/<repo>:pull,push: a bearer token for the
        caller (Basic AWS:<GetAuthorizationToken password>) or for anyone (no Authorization: pull only)."""
        state = self.state
        state.count("public_token_exchanges")
        front.drain()
        if front.command != "GET":
            return front.registry_error(404, "NOT_FOUND", "The requested URL was not found.")
        account = ANONYMOUS
        if header:
            with state.lock:
                known = self.tokens.get(credentials[1]) if credentials and credentials[0] == "AWS" else None
            if known is None or known[1] < time.time():
                state.count("public_bearer_refused")
                message = "Your authorization token has expired. Reauthenticate and try again." if known else (
                    "Your authorization token is invalid.")
                return front.registry_error(401, "DENIED", message)
            account = known[0]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(front.path).query)
        access = []
        for scope in " ".join(query.get("scope", [])).split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind != "repository" or not name:
                continue
            wanted = actions.split(",")
            owner = self.split_path_name(name)
            granted = []
            if "pull" in wanted and owner is not None:
                granted.append("pull")
            if "push" in wanted and account is not None and self.account_of_alias(name.partition("/")[0]) == account:
                granted.append("push")
            if granted:
                access.append({"type": "repository", "name": name, "actions": granted})
        with state.lock:
            limit = state.settings["public_bearer_requests"]
            state.settings["public_bearer_requests"] = None
        token = self.mint(account, access, limit)
        state.count("public_bearer_issued")
        state.count("public_bearer_issued_anonymous" if account is None else "public_bearer_issued_authenticated")
        issued = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        front.reply_json(200, {"token": token, "access_token": token, "expires_in": BEARER_SECONDS,
                               "issued_at": issued})
