//! Debian's `docker-registry` (CNCF distribution 2.8) on its own, with bcrypt htpasswd auth for user `AWS` and
//! moto's password: the plain distribution registry for the registry client's tests against distribution itself
//! (behind the fault proxy, over plain HTTP). Binary-level tests against "ECR" use `ecr::Ecr`, whose stand-in runs
//! its own docker-registry behind ECR's rules. Optionally serves TLS from a test CA made with the openssl command
//! line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Guarded, free_port, http_status, moto, wait_until};

pub struct Registry {
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// Test CA certificate when serving TLS.
    pub ca_cert: Option<PathBuf>,
    _process: Guarded,
}

pub struct RegistryOptions {
    /// Listen address; `None` picks a free port on 127.0.0.1.
    pub addr: Option<String>,
    /// DNS names the TLS certificate covers (TLS is on when this is non-empty).
    pub tls_names: Vec<String>,
}

impl Registry {
    /// Plain HTTP on a free loopback port.
    pub fn start() -> Registry {
        Registry::start_with(RegistryOptions { addr: None, tls_names: Vec::new() })
    }

    pub fn start_with(options: RegistryOptions) -> Registry {
        let dir = super::scratch_dir("registry");
        let root = dir.path();
        std::fs::create_dir_all(root.join("data")).expect("mkdir data");
        let htpasswd = Command::new("htpasswd")
            .args(["-Bbn", "AWS", moto::PASSWORD])
            .output()
            .expect("htpasswd (apache2-utils) must be installed");
        assert!(htpasswd.status.success());
        std::fs::write(root.join("htpasswd"), &htpasswd.stdout).expect("write htpasswd");
        let (addr, port) = match &options.addr {
            Some(addr) => (addr.clone(), addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port in addr")),
            None => {
                let port = free_port();
                (format!("127.0.0.1:{port}"), port)
            }
        };
        let ip = addr.rsplit_once(':').map_or("127.0.0.1", |(ip, _)| ip).to_string();
        let ca_cert = (!options.tls_names.is_empty()).then(|| make_certificates(root, &options.tls_names, &ip));
        let tls = if ca_cert.is_some() {
            format!("  tls:\n    certificate: {0}/server.crt\n    key: {0}/server.key\n", root.display())
        } else {
            String::new()
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    \
             rootdirectory: {root}/data\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: test-secret\n{tls}\
             auth:\n  htpasswd:\n    realm: basic-realm\n    path: {root}/htpasswd\n",
            root = root.display()
        );
        std::fs::write(root.join("config.yml"), config).expect("write config");
        let log = std::fs::File::create(root.join("registry.log")).expect("log file");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(root.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start docker-registry (Debian package docker-registry)");
        let process = Guarded { child, name: "docker-registry" };
        if ca_cert.is_some() {
            wait_until("registry (tls)", Duration::from_secs(15), || {
                std::net::TcpStream::connect((ip.as_str(), port)).is_ok()
            });
        } else {
            wait_until("registry", Duration::from_secs(15), || http_status(port, "/v2/") == Some(401));
        }
        Registry { port, dir, ca_cert, _process: process }
    }

    /// `127.0.0.1:<port>`, the registry host for plain-HTTP tests.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

/// Makes a CA and a server certificate for `names` (plus 127.0.0.1 and localhost) with the openssl command line;
/// returns the CA certificate path.
fn make_certificates(dir: &Path, names: &[String], ip: &str) -> PathBuf {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=ecr-ship-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    let mut san = format!("subjectAltName=IP:127.0.0.1,IP:{ip},DNS:localhost");
    for name in names {
        san.push_str(",DNS:");
        san.push_str(name);
    }
    std::fs::write(dir.join("ext.cnf"), format!("{san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"))
        .expect("write ext.cnf");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    ]);
    // Engines read every file of a cert dir (`*.key` as client keys), so the CA gets a directory of its own.
    let ca_dir = dir.join("ca");
    std::fs::create_dir_all(&ca_dir).expect("mkdir ca");
    std::fs::copy(dir.join("ca.crt"), ca_dir.join("ca.crt")).expect("copy ca.crt");
    ca_dir.join("ca.crt")
}
