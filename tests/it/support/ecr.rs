//! One local "Amazon ECR": moto for the API, Debian's docker-registry serving TLS on port 443 of a loopback address
//! of its own, and the bridge (`tests/stand-ins/ecr_bridge.py`) that joins them into one image store as ECR is.
//!
//! The registry answers to the real host name the ECR API returns (`123456789012.dkr.ecr.us-east-1.amazonaws.com`):
//! commands that must reach it run inside a private mount namespace whose `/etc/hosts` maps that name to this
//! stand-in's address ([`Ecr::wrap`]), so the product's own host handling is exercised unchanged. Each stand-in takes
//! a random free 127.77.x.y, so tests (and test runs) proceed in parallel.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::moto::{self, Moto};
use super::registry::{Registry, RegistryOptions};
use super::{Guarded, free_port, wait_until};

/// The registry host moto's GetAuthorizationToken names.
pub const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

pub struct Ecr {
    pub moto: Moto,
    pub registry: Registry,
    pub ip: String,
    pub bridge_port: u16,
    pub hosts_file: PathBuf,
    _bridge: Guarded,
}

impl Ecr {
    pub fn start() -> Ecr {
        Ecr::start_with_names(&[])
    }

    /// Environment for the binary: the ECR API through the bridge, STS on moto, static keys, the test CA.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = self.moto.env();
        for (key, value) in env.iter_mut() {
            if key == "AWS_ENDPOINT_URL_ECR" {
                *value = format!("http://127.0.0.1:{}", self.bridge_port);
            }
        }
        env.push(("SSL_CERT_FILE".into(), self.ca().display().to_string()));
        env
    }

    pub fn ca(&self) -> PathBuf {
        self.registry.ca_cert.clone().expect("TLS registry has a CA")
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

    /// Tags moto (the ECR API) reports for a repository, with their digests.
    pub fn api_tags(&self, repository: &str) -> std::collections::BTreeMap<String, String> {
        let text = self.moto.python(&format!(
            "out = {{}}\nfor i in client('ecr').describe_images(repositoryName={repository:?})['imageDetails']:\n    \
             for t in i.get('imageTags', []): out[t] = i['imageDigest']\nprint(json.dumps(out))"
        ));
        serde_json::from_str(text.trim()).expect("describe_images JSON")
    }

    /// The repository names moto (the ECR API) knows.
    pub fn repositories(&self) -> Vec<String> {
        let text = self.moto.python(
            "print(json.dumps([r['repositoryName'] for r in client('ecr').describe_repositories()['repositories']]))",
        );
        serde_json::from_str(text.trim()).expect("describe_repositories JSON")
    }

    /// Waits until the ECR API (moto) reports every one of `tags` in `repository`. A push through the registry
    /// reaches moto by the registry's asynchronous notification; ECR itself is one store and needs no such wait, so
    /// a test that reads the API right after a registry push (a re-run, a retag, an immutability check) waits here.
    pub fn settle(&self, repository: &str, tags: &[&str]) {
        super::wait_until("the API view of the pushed tags", Duration::from_secs(20), || {
            let known = self.api_tags(repository);
            tags.iter().all(|t| known.contains_key(*t))
        });
    }

    pub fn bridge_log(&self) -> String {
        std::fs::read_to_string(self.registry.dir.path().join("bridge.log")).unwrap_or_default()
    }
}

impl Ecr {
    /// Like [`Ecr::start`], but the registry also answers to `extra_names` (in its certificate and in the hosts
    /// file of the namespace), so one local registry can stand in for the registries of several accounts.
    ///
    /// The loopback address is picked at random in 127.77.0.0/16 and checked free on port 443 first, so parallel
    /// tests and other test runs on the machine never collide.
    pub fn start_with_names(extra_names: &[&str]) -> Ecr {
        let moto = Moto::start();
        let ip = loop {
            let mut random = [0u8; 2];
            getrandom::fill(&mut random).expect("randomness");
            let candidate = format!("127.77.{}.{}", random[0], random[1].max(1));
            if std::net::TcpListener::bind((candidate.as_str(), 443)).is_ok() {
                break candidate;
            }
        };
        let bridge_port = free_port();
        let mut tls_names = vec![HOST.to_string()];
        tls_names.extend(extra_names.iter().map(|n| n.to_string()));
        let registry = Registry::start_with(RegistryOptions {
            addr: Some(format!("{ip}:443")),
            tls_names: tls_names.clone(),
            notify_url: Some(format!("http://127.0.0.1:{bridge_port}/registry-events")),
        });
        let ca = registry.ca_cert.clone().expect("TLS registry has a CA");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stand-ins/ecr_bridge.py");
        let log = std::fs::File::create(registry.dir.path().join("bridge.log")).expect("bridge log");
        let child = Command::new(moto::venv().join("bin/python"))
            .arg(script)
            .args([&bridge_port.to_string(), &moto.endpoint(), &format!("https://{ip}:443"), moto::PASSWORD])
            .arg(&ca)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ecr_bridge.py");
        let bridge = Guarded { child, name: "ecr-bridge" };
        wait_until("ecr bridge", Duration::from_secs(20), || {
            super::http_status(bridge_port, "/moto-api/") == Some(200)
        });
        let hosts_file = registry.dir.path().join("hosts");
        std::fs::write(&hosts_file, format!("127.0.0.1 localhost\n{ip} {}\n", tls_names.join(" "))).expect("hosts");
        Ecr { moto, registry, ip, bridge_port, hosts_file, _bridge: bridge }
    }
}
