//! One local "Amazon ECR": `tests/stand-ins/ecr_stand_in.py`, the ECR stand-in every binary-level test, the demo
//! and the bench use. It runs moto (the ECR and STS APIs) and Debian's docker-registry behind two fronts that make
//! them one synchronous store and answer as real ECR does where it is stricter than distribution (throttled
//! PutImage, the strict manifest schema, expiring tokens, missing repositories, immutable tags, ...); its module
//! docstring lists every rule.
//!
//! The registry answers to the real host name the ECR API returns (`123456789012.dkr.ecr.us-east-1.amazonaws.com`):
//! commands that must reach it run inside a private mount namespace whose `/etc/hosts` maps that name to this
//! stand-in's address ([`Ecr::wrap`]), so the product's own host handling is exercised unchanged. Each stand-in takes
//! a random free 127.77.x.y, so tests (and test runs) proceed in parallel.
//!
//! The same process is ECR Public: the `ecr-public` API on the same port (`AWS_ENDPOINT_URL_ECR_PUBLIC`), and
//! `public.ecr.aws` (always in the certificate and the hosts file) with a real Bearer token service in front of a
//! docker-registry that verifies every token itself. The `public_*` methods read and write that side.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::moto::{self, Moto};
use super::{Guarded, wait_until};

/// The registry host moto's GetAuthorizationToken names.
pub const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
/// ECR Public's registry host; images are `public.ecr.aws/<alias>/<repository>`.
pub const PUBLIC_HOST: &str = "public.ecr.aws";
/// The default registry alias of account 123456789012 on the stand-in (DescribeRegistries), unless configured
/// otherwise with `{"public_alias": ...}`.
pub const PUBLIC_ALIAS: &str = "ecr-ship-test";

pub struct Ecr {
    /// The API front: moto behind ECR's limits. Boto3 snippets run through it, so test set-up sees the same
    /// one store the binary does.
    pub moto: Moto,
    pub ip: String,
    pub hosts_file: PathBuf,
    pub dir: tempfile::TempDir,
    _process: Guarded,
}

impl Ecr {
    pub fn start() -> Ecr {
        Ecr::start_with_names(&[])
    }

    /// Like [`Ecr::start`], but the registry also answers to `extra_names` (in its certificate and in the hosts
    /// file of the namespace), so one local registry can stand in for the registries of several accounts.
    ///
    /// The loopback address is picked at random in 127.77.0.0/16 and checked free on port 443 first, so parallel
    /// tests and other test runs on the machine never collide.
    pub fn start_with_names(extra_names: &[&str]) -> Ecr {
        let ip = loop {
            let mut random = [0u8; 2];
            getrandom::fill(&mut random).expect("randomness");
            let candidate = format!("127.77.{}.{}", random[0], random[1].max(1));
            if std::net::TcpListener::bind((candidate.as_str(), 443)).is_ok() {
                break candidate;
            }
        };
        let dir = super::scratch_dir("ecr");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stand-ins/ecr_stand_in.py");
        let log = std::fs::File::create(dir.path().join("stand-in.log")).expect("stand-in log");
        let child = Command::new(moto::venv().join("bin/python"))
            .arg(script)
            .arg(dir.path())
            .arg(&ip)
            .arg(HOST)
            .args(extra_names)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ecr_stand_in.py");
        let process = Guarded { child, name: "ecr-stand-in" };
        let ready = dir.path().join("ready.json");
        wait_until("the ECR stand-in", Duration::from_secs(60), || ready.exists());
        let ports: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&ready).expect("ready.json")).expect("ready.json is JSON");
        let api_port = ports["api_port"].as_u64().expect("api_port") as u16;
        let hosts_file = dir.path().join("hosts");
        Ecr { moto: Moto::attached(api_port), ip, hosts_file, dir, _process: process }
    }

    /// Environment for the binary: the ECR, ECR Public and STS APIs through the stand-in, static keys, the test CA.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = self.moto.env();
        env.push(("AWS_ENDPOINT_URL_ECR_PUBLIC".into(), self.moto.endpoint()));
        env.push(("SSL_CERT_FILE".into(), self.ca().display().to_string()));
        env
    }

    /// This machine's CA bundle plus the test CA (for programs that read `SSL_CERT_FILE`, dockerd among them).
    pub fn ca_bundle(&self) -> PathBuf {
        self.dir.path().join("ca-bundle.pem")
    }

    /// The test CA alone, in a directory of its own (a cert dir for skopeo and podman).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca/ca.crt")
    }

    /// Wraps a command so it runs where this stand-in's host name resolves.
    pub fn wrap(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        super::in_hosts_namespace(&self.hosts_file, program)
    }

    /// The digest a pull of `repository:reference` gets, read with skopeo by the real host name.
    pub fn pull_digest(&self, repository: &str, reference: &str) -> Option<String> {
        let raw = self.pull_manifest(repository, reference)?;
        Some(ecr_ship::digest::sha256_digest(&raw))
    }

    /// The raw manifest a pull of `repository:reference` gets (`None` when there is none).
    pub fn pull_manifest(&self, repository: &str, reference: &str) -> Option<Vec<u8>> {
        let separator = if reference.starts_with("sha256:") { "@" } else { ":" };
        let output = self
            .wrap("skopeo")
            .args(["inspect", "--raw", "--creds", &format!("AWS:{}", moto::PASSWORD), "--cert-dir"])
            .arg(self.ca().parent().expect("ca dir"))
            .arg(format!("docker://{HOST}/{repository}{separator}{reference}"))
            .output()
            .expect("skopeo");
        output.status.success().then_some(output.stdout)
    }

    /// Tags the ECR API reports for a repository, with their digests.
    pub fn api_tags(&self, repository: &str) -> std::collections::BTreeMap<String, String> {
        let text = self.moto.python(&format!(
            "out = {{}}\nfor i in client('ecr').describe_images(repositoryName={repository:?})['imageDetails']:\n    \
             for t in i.get('imageTags', []): out[t] = i['imageDigest']\nprint(json.dumps(out))"
        ));
        serde_json::from_str(text.trim()).expect("describe_images JSON")
    }

    /// The repository names the ECR API knows.
    pub fn repositories(&self) -> Vec<String> {
        let text = self.moto.python(
            "print(json.dumps([r['repositoryName'] for r in client('ecr').describe_repositories()['repositories']]))",
        );
        serde_json::from_str(text.trim()).expect("describe_repositories JSON")
    }

    /// Creates an ECR Public repository through the `ecr-public` API (boto3). `catalog` is the `catalogData`
    /// structure as JSON; a `logoImageBlob` in it is given base64-encoded, as it travels on the wire.
    pub fn public_create_repository(&self, name: &str, catalog: serde_json::Value) {
        self.moto.python(&format!(
            "import base64\ncatalog = json.loads({catalog:?})\nif 'logoImageBlob' in catalog: \
             catalog['logoImageBlob'] = base64.b64decode(catalog['logoImageBlob'])\n\
             client('ecr-public').create_repository(repositoryName={name:?}, catalogData=catalog)",
            catalog = catalog.to_string()
        ));
    }

    /// The ECR Public repository names the API knows.
    pub fn public_repositories(&self) -> Vec<String> {
        let text = self.moto.python(
            "print(json.dumps([r['repositoryName'] for r in \
             client('ecr-public').describe_repositories()['repositories']]))",
        );
        serde_json::from_str(text.trim()).expect("describe_repositories JSON")
    }

    /// Tags the ECR Public API reports for a repository (DescribeImageTags), with their digests.
    pub fn public_api_tags(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        let text = self.moto.python(&format!(
            "out = {{}}\nfor t in client('ecr-public').describe_image_tags(repositoryName={name:?})['imageTagDetails']:\n    \
             out[t['imageTag']] = t['imageDetail']['imageDigest']\nprint(json.dumps(out))"
        ));
        serde_json::from_str(text.trim()).expect("describe_image_tags JSON")
    }

    /// A repository's catalog data as GetRepositoryCatalogData answers it.
    pub fn public_catalog(&self, name: &str) -> serde_json::Value {
        let text = self.moto.python(&format!(
            "print(json.dumps(client('ecr-public').get_repository_catalog_data(repositoryName={name:?})['catalogData']))"
        ));
        serde_json::from_str(text.trim()).expect("catalog JSON")
    }

    /// A fresh registry password for `public.ecr.aws` (user `AWS`): ecr-public GetAuthorizationToken.
    pub fn public_token(&self) -> String {
        let text = self.moto.python(
            "import base64\ntoken = client('ecr-public').get_authorization_token()['authorizationData']\
             ['authorizationToken']\nprint(base64.b64decode(token).decode().split(':', 1)[1])",
        );
        text.trim().to_string()
    }

    /// The registry alias of the default account now (`public_alias`, [`PUBLIC_ALIAS`] unless configured).
    pub fn public_alias(&self) -> String {
        self.stats()["settings"]["public_alias"].as_str().unwrap_or(PUBLIC_ALIAS).to_string()
    }

    /// The raw manifest a pull of `public.ecr.aws/<alias>/<name>:<reference>` gets (`None` when there is none),
    /// read with skopeo, which does its own Bearer exchange with a fresh GetAuthorizationToken password.
    pub fn public_pull_manifest(&self, name: &str, reference: &str) -> Option<Vec<u8>> {
        let separator = if reference.starts_with("sha256:") { "@" } else { ":" };
        let output = self
            .wrap("skopeo")
            .args(["inspect", "--raw", "--creds", &format!("AWS:{}", self.public_token()), "--cert-dir"])
            .arg(self.ca().parent().expect("ca dir"))
            .arg(format!("docker://{PUBLIC_HOST}/{}/{name}{separator}{reference}", self.public_alias()))
            .output()
            .expect("skopeo");
        output.status.success().then_some(output.stdout)
    }

    /// The digest a pull of the public `name:reference` gets (see [`Ecr::public_pull_manifest`]).
    pub fn public_pull_digest(&self, name: &str, reference: &str) -> Option<String> {
        let raw = self.public_pull_manifest(name, reference)?;
        Some(ecr_ship::digest::sha256_digest(&raw))
    }

    /// Sets what DescribeImageScanFindings answers for an image of `repository` (`image_id` as the API's imageId,
    /// `{"imageTag": …}` or `{"imageDigest": …}`), through moto's own API (`/moto-api/static/ecr/scan-finding-results`,
    /// which the API front forwards): `scan` is the `imageScanStatus` and `imageScanFindings` members, in the basic
    /// (`findings`) or the enhanced (`enhancedFindings`) shape. Each result answers one distinct imageId of a
    /// request, in the order given; moto still answers ScanNotFoundException until StartImageScan ran once.
    pub fn set_scan_findings(&self, repository: &str, image_id: serde_json::Value, scan: serde_json::Value) {
        let mut result = serde_json::json!({
            "registryId": moto::ACCOUNT, "repositoryName": repository, "imageId": image_id,
        });
        for (key, value) in scan.as_object().expect("scan members").iter() {
            result[key] = value.clone();
        }
        let body = serde_json::json!({"results": [result], "region": moto::REGION}).to_string();
        let response = self.raw("POST", "/moto-api/static/ecr/scan-finding-results", &body);
        assert!(response.starts_with("HTTP/1.0 201") || response.starts_with("HTTP/1.1 201"), "{response}");
    }

    fn raw(&self, method: &str, path: &str, body: &str) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.moto.port)).expect("connect stand-in");
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    }

    /// The stand-in's counters (requests, throttled PutImages, refusals by code, upload starts, blob bytes, ...).
    pub fn stats(&self) -> serde_json::Value {
        serde_json::from_str(&self.control("GET", "/stand-in/stats", "")).expect("stats JSON")
    }

    /// One counter of [`Ecr::stats`], 0 when it never happened.
    pub fn stat(&self, key: &str) -> u64 {
        self.stats()[key].as_u64().unwrap_or(0)
    }

    /// Changes the stand-in's ECR limits (see the stand-in's docstring), for example
    /// `{"next_token_requests": 5}` or `{"put_image_rate": 5, "put_image_burst": 5}`.
    pub fn configure(&self, settings: serde_json::Value) {
        self.control("POST", "/stand-in/config", &settings.to_string());
    }

    fn control(&self, method: &str, path: &str, body: &str) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.moto.port)).expect("connect stand-in");
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let (head, text) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        assert!(head.contains(" 200 "), "{method} {path}: {response}");
        text.to_string()
    }

    /// What the stand-in logged (refusals and their reasons, failures of its own).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stand-in.log")).unwrap_or_default()
    }
}

/// `ecr-ship push --repository team/app` for commit [`SHA`](crate::support::images::SHA) on main, against `ecr`.
pub fn push(ecr: &Ecr, cwd: &Path, args: &[&str]) -> crate::support::Run {
    crate::support::Ship::new(&[
        "push",
        "--repository",
        "team/app",
        "--sha",
        crate::support::images::SHA,
        "--branch",
        "main",
    ])
    .args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    .against(ecr)
    .cwd(cwd)
    .run()
}
