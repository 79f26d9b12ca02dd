//! The AWS side of the real `ecr-ship` binary, end to end: `login` with AssumeRole and an external id, with GitHub
//! OIDC web identity and with a role chain under enforced IAM; login of a second account's registry and `logout`
//! removing exactly those entries; repository creation with every setting (flags and `.ecr-ship.yml`) read back
//! with boto3; AccessDenied naming the IAM action; the `policy` command; bad input refused before anything is sent;
//! and no secret (registry password, static secret key, OIDC JWT or request token) in any output, written file or
//! process argument list.
//!
//! Every run gets a scratch dir of its own as HOME, TMPDIR and DOCKER_CONFIG, and a DOCKER_HOST naming a socket no
//! daemon listens on, so docker works client side only (as on a CI runner's docker CLI, no daemon needed: login
//! writes the test's own `config.json` without running docker, and `docker logout` is local).

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::ecr::{Ecr, HOST};
use crate::support::images::{SHA, single_image_layout};
use crate::support::moto::{Moto, PASSWORD};
use crate::support::oidc::{self, OidcServer};
use crate::support::proc_scan::{ProcScan, Scope};
use crate::support::{Run, Ship, scratch_dir};

/// The second account's registry of the two-registry login (same region, so the same token serves it).
const OTHER_HOST: &str = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
/// Static keys with a secret distinctive enough to search for (moto accepts any keys while auth is off).
/// A registry in the China partition (another partition than the tests' us-east-1).
const CN_HOST: &str = "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn";
const KEY_ID: &str = "AKIAECRSHIPCLITEST01";
const SECRET_KEY: &str = "ecrShipStaticSecret+9f8e7d6c5b4a39281706";
const REPOSITORY_ARN: &str = "arn:aws:ecr:us-east-1:123456789012:repository/team/app";

fn json_of(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// One test's scratch space: HOME, TMPDIR, DOCKER_CONFIG and the GitHub output files all live in it, so every file
/// a run writes can be found and searched afterwards.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new(name: &str) -> Work {
        let dir = scratch_dir(name);
        for sub in ["home", "tmp", "docker"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        Work { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn docker_config(&self) -> PathBuf {
        self.path().join("docker/config.json")
    }

    fn auths(&self) -> serde_json::Map<String, Value> {
        let text = std::fs::read_to_string(self.docker_config()).expect("read config.json");
        json_of(&text)["auths"].as_object().cloned().unwrap_or_default()
    }

    /// A run of the binary in this scratch space: docker CLI without a daemon, and GitHub Actions output files when
    /// `github` is set.
    fn ship(&self, args: &[&str]) -> Ship {
        Ship::new(args)
            .cwd(self.path())
            .env("HOME", self.path().join("home").display().to_string())
            .env("TMPDIR", self.path().join("tmp").display().to_string())
            .env("DOCKER_CONFIG", self.path().join("docker").display().to_string())
            .env("DOCKER_HOST", format!("unix://{}", self.path().join("no-daemon.sock").display()))
    }

    /// The GitHub Actions variables of a job, with fresh output files named after `step`.
    fn github(&self, ship: Ship, step: &str) -> Ship {
        let output = self.path().join(format!("{step}.github_output"));
        let summary = self.path().join(format!("{step}.step_summary"));
        std::fs::write(&output, "").expect("create GITHUB_OUTPUT");
        std::fs::write(&summary, "").expect("create GITHUB_STEP_SUMMARY");
        ship.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_OUTPUT", output.display().to_string())
            .env("GITHUB_STEP_SUMMARY", summary.display().to_string())
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }
}

/// The static keys the tests use instead of moto's `testing`/`testing`, so the secret can be searched for.
fn static_keys(ship: Ship) -> Ship {
    ship.env("AWS_ACCESS_KEY_ID", KEY_ID).env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
}

/// Everything that must never be printed or written outside the engine's credential store.
fn secrets() -> Vec<String> {
    let jwt = oidc::jwt("sts.amazonaws.com");
    let jwt_header = jwt.split('.').next().expect("jwt header").to_string();
    vec![
        PASSWORD.to_string(),
        basic("AWS", PASSWORD),
        SECRET_KEY.to_string(),
        oidc::REQUEST_TOKEN.to_string(),
        // Every JWT the OIDC stand-in hands out starts with this header segment and ends with this signature.
        format!("{jwt_header}."),
        ".c2lnbmF0dXJl".to_string(),
    ]
}

/// Files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Check 8: no secret in the run's stdout or stderr, nor in any file of the scratch space (GITHUB_OUTPUT,
/// GITHUB_STEP_SUMMARY, the login record, temporary files) except the engine's credential store `config.json`.
#[track_caller]
fn assert_no_leaks(run: &Run, work: &Work) {
    assert_no_leaks_of(run, work, &[]);
}

/// [`assert_no_leaks`] with more secrets of the test's own (such as IAM keys made for it).
#[track_caller]
fn assert_no_leaks_of(run: &Run, work: &Work, more: &[&str]) {
    let mut secrets = secrets();
    secrets.extend(more.iter().map(|s| s.to_string()));
    for secret in &secrets {
        assert!(!run.stdout.contains(secret.as_str()), "stdout shows secret {secret:?}:\n{}", run.stdout);
        assert!(!run.stderr.contains(secret.as_str()), "stderr shows secret {secret:?}:\n{}", run.stderr);
    }
    for file in files_under(work.path()) {
        if file == work.docker_config() {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap_or_default();
        for secret in &secrets {
            let needle = secret.as_bytes();
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{} holds secret {secret:?}", file.display());
        }
    }
}

/// A TCP listener on 127.0.0.1 that counts connections and, with an upstream port, forwards them byte for byte
/// while recording what the client sent (to see the STS request parameters the binary really put on the wire).
struct Tap {
    port: u16,
    connections: Arc<AtomicUsize>,
    sent: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Tap {
    fn start(upstream: Option<u16>) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind tap");
        let port = listener.local_addr().expect("tap addr").port();
        let (connections, sent, stop) =
            (Arc::new(AtomicUsize::new(0)), Arc::default(), Arc::new(AtomicBool::new(false)));
        let thread = {
            let (connections, sent, stop): (Arc<AtomicUsize>, Arc<Mutex<Vec<u8>>>, Arc<AtomicBool>) =
                (connections.clone(), Arc::clone(&sent), stop.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    connections.fetch_add(1, Ordering::SeqCst);
                    let (Ok(client), Some(upstream)) = (client, upstream) else { continue };
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                    let sent = Arc::clone(&sent);
                    // Both directions end when either side closes; nothing outlives the binary's connection.
                    let (mut client_read, mut server_write) =
                        (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                    std::thread::spawn(move || {
                        let mut buffer = [0u8; 16384];
                        while let Ok(n @ 1..) = client_read.read(&mut buffer) {
                            sent.lock().expect("tap lock").extend_from_slice(&buffer[..n]);
                            if server_write.write_all(&buffer[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = server_write.shutdown(std::net::Shutdown::Write);
                    });
                    let (mut server_read, mut client_write) = (server, client);
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut server_read, &mut client_write);
                        let _ = client_write.shutdown(std::net::Shutdown::Both);
                    });
                }
            })
        };
        Tap { port, connections, sent, stop, thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn sent(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().expect("tap lock")).into_owned()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `login --engine docker` against the ECR stand-in with the static keys and checks the common promises:
/// stdout lists `hosts`, each has an auth entry in config.json carrying the registry password, and nothing leaked.
#[track_caller]
fn assert_logged_in(run: &Run, work: &Work, hosts: &[&str]) {
    let expected: String = hosts.iter().map(|h| format!("{h}\n")).collect();
    assert_eq!(run.stdout, expected, "stdout lists the registries\nstderr:\n{}", run.stderr);
    let auths = work.auths();
    for host in hosts {
        assert_eq!(auths[*host]["auth"], basic("AWS", PASSWORD), "config.json entry for {host}: {auths:?}");
    }
    assert_no_leaks(run, work);
}

// 1. AssumeRole with an external id.
#[cfg(feature = "stand-ins")]
#[test]
fn login_assumes_a_role_with_external_id() {
    let ecr = Ecr::start();
    let work = Work::new("cli-login-role");
    // STS through a recording tap, so the test sees the external id the binary sent, not just a success.
    let sts = Tap::start(Some(ecr.moto.port));
    let run = static_keys(work.ship(&["login", "--engine", "docker"]).against(&ecr))
        .env("AWS_ENDPOINT_URL_STS", sts.url())
        .args_from(&[
            "--role-arn".into(),
            "arn:aws:iam::123456789012:role/ci-push".into(),
            "--external-id".into(),
            "ext-4711".into(),
            "--role-session-name".into(),
            "cli-s1".into(),
        ])
        .run()
        .success();
    assert_logged_in(&run, &work, &[HOST]);
    assert!(
        run.stderr.contains("authenticated as arn:aws:sts::123456789012:assumed-role/ci-push/cli-s1"),
        "{}",
        run.stderr
    );
    let wire = sts.sent();
    assert!(wire.contains("Action=AssumeRole&") && wire.contains("ExternalId=ext-4711"), "STS requests:\n{wire}");
    assert!(wire.contains("RoleSessionName=cli-s1"), "{wire}");
}

// 2. GitHub OIDC web identity, and the missing `id-token: write` permission.
#[cfg(feature = "stand-ins")]
#[test]
fn login_with_github_oidc_web_identity() {
    let ecr = Ecr::start();
    let server = OidcServer::start("sts.amazonaws.com");
    let work = Work::new("cli-login-oidc");
    let ship = work
        .github(work.ship(&["login", "--engine", "docker"]).against(&ecr), "login")
        .without("AWS_ACCESS_KEY_ID")
        .without("AWS_SECRET_ACCESS_KEY")
        .arg("--role-arn")
        .arg("arn:aws:iam::123456789012:role/gha-push");
    let ship = server.env().iter().fold(ship, |ship, (k, v)| ship.env(k, v.clone()));
    let run = ship.run().success();
    assert_logged_in(&run, &work, &[HOST]);
    assert!(
        run.stderr.contains("authenticated as arn:aws:sts::123456789012:assumed-role/gha-push/ecr-ship-4242"),
        "{}",
        run.stderr
    );
    // The stand-in answers 401 to any other bearer token, so one successful request proves the right one was sent.
    assert_eq!(server.requests(), 1, "the token endpoint is asked once");
    assert_eq!(server.audiences(), vec!["sts.amazonaws.com".to_string()]);

    // Without the two ACTIONS_ variables (a job lacking `permissions: id-token: write`) and without other
    // credentials: a failure of the environment, found while resolving credentials, so exit 1 with the fix.
    let failed = work
        .github(work.ship(&["login", "--engine", "docker"]).against(&ecr), "no-oidc")
        .without("AWS_ACCESS_KEY_ID")
        .without("AWS_SECRET_ACCESS_KEY")
        .arg("--role-arn")
        .arg("arn:aws:iam::123456789012:role/gha-push")
        .run()
        .fails_with(1, "permissions: id-token: write");
    assert!(failed.stderr.contains("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN not set"));
    assert!(failed.stderr.lines().any(|l| l.starts_with("::error ") && l.contains("id-token: write")));
    assert_eq!(failed.stdout, "");
    assert_eq!(server.requests(), 1, "no token request without the variables");
    assert_no_leaks(&failed, &work);
}

// 3. Role chaining under enforced IAM.
#[cfg(feature = "stand-ins")]
#[test]
fn login_chains_two_roles_under_enforced_iam() {
    let ecr = Ecr::start();
    let (key_id, secret) = ecr.moto.chain_identities();
    let work = Work::new("cli-login-chain");
    let first = "arn:aws:iam::123456789012:role/first";
    let second = "arn:aws:iam::123456789012:role/second";
    // Under enforced auth the ECR API is reached on moto directly: the bridge rewrites the Host header, which is
    // part of the SigV4 signature moto now checks. The registry is still the stand-in's, by its real name.
    let ship = |roles: &[&str]| {
        let ship = work
            .ship(&["login", "--engine", "docker", "--role-session-name", "hop"])
            .against(&ecr)
            .env("AWS_ENDPOINT_URL_ECR", ecr.moto.endpoint())
            .env("AWS_ACCESS_KEY_ID", key_id.clone())
            .env("AWS_SECRET_ACCESS_KEY", secret.clone());
        roles.iter().fold(ship, |ship, role| ship.arg("--role-arn").arg(*role))
    };
    ecr.moto.post("/moto-api/reset-auth", "0");

    let run = ship(&[first, second]).run().success();
    assert_logged_in(&run, &work, &[HOST]);
    assert!(
        run.stderr.contains("authenticated as arn:aws:sts::123456789012:assumed-role/second/hop"),
        "{}",
        run.stderr
    );

    let denied = ship(&[second]).run().fails_with(1, "sts:AssumeRole");
    assert!(denied.stderr.contains(&format!("AssumeRole of {second}")), "{}", denied.stderr);
    assert!(denied.stderr.contains("trust policy"), "{}", denied.stderr);
    assert_eq!(denied.stdout, "");
    assert_no_leaks_of(&run, &work, &[&secret]);
    assert_no_leaks_of(&denied, &work, &[&secret]);

    ecr.moto.post("/moto-api/reset-auth", "inf");
}

// 4. A second account's registry, and logout removing exactly what login added.
#[cfg(feature = "stand-ins")]
#[test]
fn login_of_two_registries_and_exact_logout() {
    let ecr = Ecr::start_with_names(&[OTHER_HOST]);
    let work = Work::new("cli-login-two");
    let unrelated = json!({"auth": basic("octocat", "ghp_unrelatedTokenForTests0000"), "email": "o@example.com"});
    std::fs::write(
        work.docker_config(),
        serde_json::to_string_pretty(&json!({"auths": {"ghcr.io": unrelated}})).unwrap(),
    )
    .expect("write config.json");

    let run = static_keys(work.ship(&["login", "--engine", "docker", "--registries", OTHER_HOST]).against(&ecr))
        .run()
        .success();
    assert_logged_in(&run, &work, &[HOST, OTHER_HOST]);
    assert_eq!(work.auths()["ghcr.io"], unrelated);
    let record = work.path().join("docker/ecr-ship-logins.json");
    assert_eq!(json_of(&std::fs::read_to_string(&record).expect("login record"))["hosts"], json!([HOST, OTHER_HOST]));

    let out = work.ship(&["logout", "--engine", "docker"]).against(&ecr).run().success();
    assert_eq!(out.stdout, format!("{HOST}\n{OTHER_HOST}\n"));
    let auths = work.auths();
    assert_eq!(auths.keys().collect::<Vec<_>>(), ["ghcr.io"], "only the unrelated entry is left: {auths:?}");
    assert_eq!(auths["ghcr.io"], unrelated);
    assert!(!record.exists(), "the login record is removed with the logins");
    assert_no_leaks(&out, &work);

    // A second logout has nothing to remove and says so.
    let again = work.ship(&["logout", "--engine", "docker"]).against(&ecr).run().success();
    assert_eq!(again.stdout, "");
    assert!(again.stderr.contains("nothing to remove"), "{}", again.stderr);
    assert_eq!(work.auths().keys().collect::<Vec<_>>(), ["ghcr.io"]);
}

/// `login`, then a separate `logout` process, puts back the credential the user had for the host before: the earlier
/// entry is parked in the engine's own credential file (never in the login record), and gone again after logout.
#[cfg(feature = "stand-ins")]
#[test]
fn logout_in_another_process_puts_back_the_earlier_credential() {
    let ecr = Ecr::start();
    let work = Work::new("cli-login-restore");
    let earlier = json!({"auth": basic("ci-bot", "earlierRegistryPassword0000")});
    std::fs::write(work.docker_config(), serde_json::to_string_pretty(&json!({"auths": {HOST: earlier}})).unwrap())
        .expect("write config.json");
    let run = static_keys(work.ship(&["login", "--engine", "docker"]).against(&ecr)).run().success();
    assert_logged_in(&run, &work, &[HOST]);
    let record = std::fs::read_to_string(work.path().join("docker/ecr-ship-logins.json")).expect("login record");
    assert!(!record.contains("earlierRegistryPassword0000") && !record.contains(earlier["auth"].as_str().unwrap()));

    let out = work.ship(&["logout", "--engine", "docker"]).against(&ecr).run().success();
    assert_eq!(out.stdout, format!("{HOST}\n"));
    let auths = work.auths();
    assert_eq!(auths.keys().collect::<Vec<_>>(), [HOST], "the earlier entry alone is left: {auths:?}");
    assert_eq!(auths[HOST], earlier);
    assert_no_leaks(&out, &work);
}

/// A login to several registries that fails part-way still records the logins that succeeded, so logout undoes
/// them. The second host's login fails because config.json names a credential helper for it that is not installed.
#[cfg(feature = "stand-ins")]
#[test]
fn a_failed_later_login_leaves_the_earlier_ones_recorded_for_logout() {
    let ecr = Ecr::start();
    let work = Work::new("cli-login-partial");
    let broken = "999999999999.dkr.ecr.us-east-1.amazonaws.com";
    let helpers = json!({"credHelpers": {broken: "ecr-ship-test-not-installed"}});
    std::fs::write(work.docker_config(), helpers.to_string()).expect("write config.json");
    let run = static_keys(work.ship(&["login", "--engine", "docker", "--registries", broken]).against(&ecr)).run();
    assert_eq!(run.code, 1, "the second login fails\n{}", run.stderr);
    assert!(run.stderr.contains("docker-credential-ecr-ship-test-not-installed is not on PATH"), "{}", run.stderr);
    assert_eq!(work.auths()[HOST]["auth"], basic("AWS", PASSWORD), "the first login happened");
    let record = json_of(&std::fs::read_to_string(work.path().join("docker/ecr-ship-logins.json")).expect("record"));
    assert_eq!(record["hosts"], json!([HOST]));
    let out = work.ship(&["logout", "--engine", "docker"]).against(&ecr).run().success();
    assert_eq!(out.stdout, format!("{HOST}\n"));
    assert!(work.auths().is_empty(), "nothing of ecr-ship is left: {:?}", work.auths());
    assert_no_leaks(&out, &work);
}

/// Twenty `ecr-ship login --registries …` processes at once against one docker config (each to the stand-in's
/// registry and one of its own) keep all 21 credential entries and record all 21 hosts: the store and the record
/// are changed under one file lock. One `logout` then leaves exactly the file there was before, the earlier
/// credential for the shared host back in place.
#[cfg(feature = "stand-ins")]
#[test]
fn twenty_parallel_logins_sharing_one_config_lose_nothing() {
    let ecr = Ecr::start();
    let work = Work::new("cli-login-parallel");
    let original = json!({"auths": {
        "ghcr.io": {"auth": basic("octocat", "ghp_unrelatedTokenForTests0000")},
        HOST: {"auth": basic("ci-bot", "earlierRegistryPassword0000")},
    }});
    std::fs::write(work.docker_config(), serde_json::to_string_pretty(&original).unwrap()).expect("write config.json");
    let own_host = |i: usize| format!("2100000000{i:02}.dkr.ecr.us-east-1.amazonaws.com");
    let children: Vec<_> = (0..20)
        .map(|i| {
            let ship = work.ship(&["login", "--engine", "docker", "--registries", &own_host(i)]);
            let mut command = static_keys(ship.against(&ecr)).command();
            command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
            command.spawn().expect("spawn ecr-ship login")
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().expect("wait for ecr-ship login");
        assert!(output.status.success(), "login {i}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let auths = work.auths();
    for host in (0..20).map(own_host).chain([HOST.to_string()]) {
        assert_eq!(auths[&host]["auth"], basic("AWS", PASSWORD), "config.json entry for {host}: {auths:?}");
    }
    assert_eq!(auths["ghcr.io"], original["auths"]["ghcr.io"]);
    let record = json_of(&std::fs::read_to_string(work.path().join("docker/ecr-ship-logins.json")).expect("record"));
    let mut hosts: Vec<&str> = record["hosts"].as_array().expect("hosts").iter().filter_map(Value::as_str).collect();
    hosts.sort_unstable();
    let mut expected: Vec<String> = (0..20).map(own_host).chain([HOST.to_string()]).collect();
    expected.sort_unstable();
    assert_eq!(hosts, expected, "every host is recorded once");

    let out = work.ship(&["logout", "--engine", "docker"]).against(&ecr).run().success();
    assert_eq!(out.stdout.lines().count(), 21, "{}", out.stdout);
    let after = json_of(&std::fs::read_to_string(work.docker_config()).expect("config.json"));
    assert_eq!(after, original, "logout removed exactly what the logins added");
    assert_no_leaks(&out, &work);
}

const LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"description":"keep 10","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}"#;
const REPOSITORY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":["ecr:BatchGetImage"]}]}"#;
const KMS_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-000000000000";

/// What boto3 reads back about a repository.
fn read_back(ecr: &Ecr, repository: &str) -> Value {
    json_of(&ecr.moto.python(&format!(
        r#"
ecr = client("ecr")
name = {repository:?}
repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
def optional(call, key):
    try:
        return call(repositoryName=name)[key]
    except (ecr.exceptions.LifecyclePolicyNotFoundException, ecr.exceptions.RepositoryPolicyNotFoundException):
        return None
print(json.dumps({{
    "mutability": repo["imageTagMutability"],
    "filters": repo.get("imageTagMutabilityExclusionFilters", []),
    "scan": repo["imageScanningConfiguration"]["scanOnPush"],
    "encryption": repo["encryptionConfiguration"],
    "lifecycle": optional(ecr.get_lifecycle_policy, "lifecyclePolicyText"),
    "policy": optional(ecr.get_repository_policy, "policyText"),
    "tags": sorted([[t["Key"], t["Value"]] for t in ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]]),
}}))
"#
    )))
}

fn push(work: &Work, ecr: &Ecr, step: &str, args: &[&str]) -> Ship {
    let base = ["push", "--sha", SHA, "--branch", "main", "--from", "oci:oci"];
    let all: Vec<String> = base.iter().chain(args).map(|a| a.to_string()).collect();
    work.github(static_keys(work.ship(&[]).args_from(&all).against(ecr)), step)
}

// 5. Repository creation with every setting, from flags and from `.ecr-ship.yml`; existing repositories.
#[cfg(feature = "stand-ins")]
#[test]
fn push_creates_the_repository_with_settings() {
    let ecr = Ecr::start();
    let work = Work::new("cli-create");
    let digest = single_image_layout(&work.path().join("oci"), "create");
    std::fs::write(work.path().join("lifecycle.json"), LIFECYCLE).unwrap();
    std::fs::write(work.path().join("policy.json"), REPOSITORY_POLICY).unwrap();

    let run = push(
        &work,
        &ecr,
        "flags",
        &[
            "--repository",
            "team/app",
            "--create-repository",
            "--tag-mutability",
            "IMMUTABLE_WITH_EXCLUSION",
            "--mutability-exclusion",
            "latest",
            "--scan-on-push",
            "--lifecycle-policy",
            "lifecycle.json",
            "--repository-policy",
            "policy.json",
            "--resource-tag",
            "team=platform",
            "--encryption",
            "KMS",
            "--kms-key",
            KMS_KEY,
        ],
    )
    .run()
    .success();
    assert_eq!(run.stdout, format!("{HOST}/team/app:sha-3f78685\n"));
    assert!(work.read("flags.github_output").contains("tag-mutability=IMMUTABLE_WITH_EXCLUSION\n"));
    assert!(work.read("flags.github_output").contains(&format!("digest={digest}\n")));
    assert_no_leaks(&run, &work);
    let repo = read_back(&ecr, "team/app");
    assert_eq!(repo["mutability"], "IMMUTABLE_WITH_EXCLUSION");
    assert_eq!(repo["filters"], json!([{"filterType": "WILDCARD", "filter": "latest"}]));
    assert_eq!(repo["scan"], true);
    assert_eq!(repo["encryption"]["encryptionType"], "KMS");
    assert!(repo["encryption"]["kmsKey"].as_str().is_some_and(|k| k.ends_with("0f1e2d3c-aaaa-bbbb-cccc-000000000000")));
    assert_eq!(json_of(repo["lifecycle"].as_str().expect("lifecycle")), json_of(LIFECYCLE));
    assert_eq!(json_of(repo["policy"].as_str().expect("policy")), json_of(REPOSITORY_POLICY));
    assert_eq!(repo["tags"], json!([["team", "platform"]]));
    assert_eq!(ecr.pull_digest("team/app", "sha-3f78685").as_deref(), Some(digest.as_str()));

    // The same from the config file, with the lifecycle policy as an inline YAML mapping.
    let config = "repository: team/cfg\nrepository-settings:\n  create: true\n  tag-mutability: IMMUTABLE_WITH_EXCLUSION\n  \
                  mutability-exclusions: [latest, main]\n  scan-on-push: true\n  resource-tags:\n    team: platform\n  \
                  lifecycle-policy:\n    rules:\n      - rulePriority: 1\n        description: expire untagged\n        \
                  selection:\n          tagStatus: untagged\n          countType: sinceImagePushed\n          \
                  countUnit: days\n          countNumber: 7\n        action:\n          type: expire\n";
    std::fs::write(work.path().join(".ecr-ship.yml"), config).unwrap();
    let run = push(&work, &ecr, "file", &[]).run().success();
    assert_eq!(run.stdout, format!("{HOST}/team/cfg:sha-3f78685\n"));
    assert!(work.read("file.github_output").contains("tag-mutability=IMMUTABLE_WITH_EXCLUSION\n"));
    let repo = read_back(&ecr, "team/cfg");
    assert_eq!(repo["mutability"], "IMMUTABLE_WITH_EXCLUSION");
    assert_eq!(
        repo["filters"],
        json!([{"filterType": "WILDCARD", "filter": "latest"}, {"filterType": "WILDCARD", "filter": "main"}])
    );
    assert_eq!(repo["scan"], true);
    assert_eq!(repo["encryption"]["encryptionType"], "AES256");
    assert_eq!(
        json_of(repo["lifecycle"].as_str().expect("lifecycle")),
        json!({"rules": [{"rulePriority": 1, "description": "expire untagged", "selection": {"tagStatus": "untagged",
            "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}}]})
    );
    assert_eq!(repo["policy"], Value::Null);
    assert_eq!(repo["tags"], json!([["team", "platform"]]));
    std::fs::remove_file(work.path().join(".ecr-ship.yml")).unwrap();

    // An existing repository keeps its settings unless --update-repository-settings is given.
    ecr.moto.python(r#"client("ecr").create_repository(repositoryName="team/old")"#);
    let settings = [
        "--repository",
        "team/old",
        "--create-repository",
        "--tag-mutability",
        "IMMUTABLE",
        "--scan-on-push",
        "--lifecycle-policy",
        "lifecycle.json",
        "--resource-tag",
        "owner=ci",
    ];
    let run = push(&work, &ecr, "left", &settings).run().success();
    assert!(work.read("left.github_output").contains("tag-mutability=MUTABLE\n"));
    let repo = read_back(&ecr, "team/old");
    assert_eq!(
        (&repo["mutability"], &repo["scan"], &repo["lifecycle"]),
        (&json!("MUTABLE"), &json!(false), &Value::Null)
    );
    assert_eq!(repo["tags"], json!([]));
    assert_no_leaks(&run, &work);

    let mut update = settings.to_vec();
    update.push("--update-repository-settings");
    push(&work, &ecr, "updated", &update).run().success();
    assert!(work.read("updated.github_output").contains("tag-mutability=IMMUTABLE\n"));
    let repo = read_back(&ecr, "team/old");
    assert_eq!((&repo["mutability"], &repo["scan"]), (&json!("IMMUTABLE"), &json!(true)));
    assert_eq!(json_of(repo["lifecycle"].as_str().expect("lifecycle")), json_of(LIFECYCLE));
    assert_eq!(repo["tags"], json!([["owner", "ci"]]));
}

// 6. AccessDenied under enforced IAM names the action, the repository ARN and the way out.
#[cfg(feature = "stand-ins")]
#[test]
fn push_without_create_permission_names_the_action() {
    let moto = Moto::start();
    let keys = json_of(&moto.python(
        r#"
iam = client("iam")
iam.create_user(UserName="limited")
iam.put_user_policy(UserName="limited", PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:DescribeRepositories"], "Resource": "*"}]}))
key = iam.create_access_key(UserName="limited")["AccessKey"]
print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"#,
    ));
    let (key_id, secret) = (keys["id"].as_str().unwrap(), keys["secret"].as_str().unwrap());
    let work = Work::new("cli-denied");
    single_image_layout(&work.path().join("oci"), "denied");
    moto.post("/moto-api/reset-auth", "0");
    // Denied before anything reaches a registry, so moto alone is the whole of AWS here.
    let ship = |github: bool| {
        let ship = work
            .ship(&["push", "--repository", "team/app", "--sha", SHA, "--branch", "main", "--from", "oci:oci"])
            .arg("--create-repository")
            .env("AWS_ENDPOINT_URL_ECR", moto.endpoint())
            .env("AWS_ENDPOINT_URL_STS", moto.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", key_id)
            .env("AWS_SECRET_ACCESS_KEY", secret);
        if github { work.github(ship, "denied") } else { ship }
    };

    let run = ship(false).run().fails_with(1, "ecr:CreateRepository");
    assert!(run.stderr.contains(REPOSITORY_ARN), "{}", run.stderr);
    assert!(run.stderr.contains("ecr-ship policy --repository team/app"), "{}", run.stderr);
    assert!(run.stderr.contains("arn:aws:iam::123456789012:user/limited"), "{}", run.stderr);
    assert!(!run.stderr.contains(secret) && run.stdout.is_empty());
    assert!(!run.stderr.lines().any(|l| l.starts_with("::")), "no annotations outside GitHub Actions");

    let run = ship(true).run().fails_with(1, "ecr:CreateRepository");
    let annotation = run.stderr.lines().find(|l| l.starts_with("::error ")).expect("an ::error annotation line");
    assert!(annotation.contains("ecr:CreateRepository") && annotation.contains(REPOSITORY_ARN), "{annotation}");
    assert!(!run.stderr.contains(secret));
    assert_eq!(work.read("denied.github_output"), "", "no outputs for a failed push");
    assert_no_leaks_of(&run, &work, &[secret]);

    moto.post("/moto-api/reset-auth", "inf");
}

/// The statement of a policy document with the given Sid.
fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
    policy["Statement"].as_array().expect("statements").iter().find(|s| s["Sid"] == sid).unwrap_or(&Value::Null)
}

// 7. The policy command, in the aws and aws-cn partitions.
#[test]
fn policy_prints_push_and_trust_policies() {
    let work = Work::new("cli-policy");
    let nothing = Tap::start(None);
    for (registry, prefix, audience) in [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "arn:aws:", "sts.amazonaws.com"),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "arn:aws-cn:", "sts.amazonaws.com.cn"),
    ] {
        let run = work
            .ship(&["policy", "--repository", "team/app", "--registry", registry, "--github-repo", "octo/app"])
            .arg("--create-repository")
            .arg("--github-ref")
            .arg("refs/heads/main")
            .env("AWS_ENDPOINT_URL", nothing.url())
            .run()
            .success();
        let document = json_of(&run.stdout);
        let region = if prefix == "arn:aws:" { "us-east-1" } else { "cn-north-1" };
        let repository_arn = format!("{prefix}ecr:{region}:123456789012:repository/team/app");
        let policy = &document["push_policy"];
        assert_eq!(statement(policy, "EcrLogin")["Action"], json!(["ecr:GetAuthorizationToken"]));
        assert_eq!(statement(policy, "EcrLogin")["Resource"], "*");
        let push = statement(policy, "EcrPush");
        assert_eq!(push["Resource"], repository_arn);
        for action in [
            "ecr:PutImage",
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:DescribeRepositories",
        ] {
            assert!(push["Action"].as_array().unwrap().contains(&json!(action)), "{action} missing: {push}");
        }
        let create = statement(policy, "EcrCreateRepository");
        assert_eq!(create["Resource"], repository_arn);
        assert!(create["Action"].as_array().unwrap().contains(&json!("ecr:CreateRepository")), "{create}");
        let trust = &document["github_trust_policy"]["Statement"][0];
        assert_eq!(trust["Action"], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(
            trust["Principal"]["Federated"],
            format!("{prefix}iam::123456789012:oidc-provider/token.actions.githubusercontent.com")
        );
        assert_eq!(trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"], audience);
        assert_eq!(
            trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"],
            "repo:octo/app:ref:refs/heads/main",
            "pinned to the ref, matched exactly"
        );
        assert!(trust["Condition"].get("StringLike").is_none(), "{trust}");
        assert!(!run.stderr.contains("warning"), "{}", run.stderr);
        let arns: Vec<&str> = [&push["Resource"], &create["Resource"], &trust["Principal"]["Federated"]]
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(arns.iter().all(|a| a.starts_with(prefix)), "{arns:?}");
        assert_no_leaks(&run, &work);
    }
    assert_eq!(nothing.connections(), 0, "policy is offline");
}

/// The trust policy is narrow by default: a ref or an environment; the whole repository only when asked for, with a
/// warning; `--github-repo` alone is bad input that lists the choices.
#[test]
fn the_github_trust_policy_is_pinned_unless_the_whole_repository_is_asked_for() {
    let work = Work::new("cli-policy-trust");
    let nothing = Tap::start(None);
    let policy = |extra: &[&str]| {
        let mut args =
            vec!["policy", "--repository", "team/app", "--registry", "123456789012.dkr.ecr.us-east-1.amazonaws.com"];
        args.extend_from_slice(extra);
        work.ship(&args).env("AWS_ENDPOINT_URL", nothing.url()).run()
    };
    let sub = |run: &crate::support::Run, test: &str| {
        json_of(&run.stdout)["github_trust_policy"]["Statement"][0]["Condition"][test]["token.actions.githubusercontent.com:sub"].clone()
    };
    let environment = policy(&["--github-repo", "octo/app", "--github-environment", "prod"]).success();
    assert_eq!(sub(&environment, "StringEquals"), "repo:octo/app:environment:prod");
    let tags = policy(&["--github-repo", "octo/app", "--github-ref", "refs/tags/v*"]).success();
    assert_eq!(sub(&tags, "StringLike"), "repo:octo/app:ref:refs/tags/v*", "a wildcard needs StringLike");
    let any = policy(&["--github-repo", "octo/app", "--github-any-ref"]).success();
    assert_eq!(sub(&any, "StringLike"), "repo:octo/app:*");
    assert!(any.stderr.contains("warning: the trust policy admits every job of octo/app"), "{}", any.stderr);

    let alone = policy(&["--github-repo", "octo/app"]);
    assert_eq!(alone.code, 2, "{}", alone.stderr);
    assert!(
        alone.stderr.contains("--github-ref refs/heads/main") && alone.stderr.contains("--github-any-ref"),
        "{}",
        alone.stderr
    );
    for bad in [&["--github-repo", "octo/app", "--github-ref", "main:*"][..], &["--github-ref", "refs/heads/main"][..]]
    {
        let run = policy(bad);
        assert_eq!(run.code, 2, "{bad:?}: {}", run.stderr);
        assert_eq!(nothing.connections(), 0, "nothing was contacted");
    }
}

/// Proves the scan can fail: a shell whose child sleeps with `needle` in its argv must be reported, through the
/// parent links (the child is not the root), and the planted processes are gone afterwards.
fn scanner_finds_a_planted_argv(needle: &str) {
    let mut planted = Command::new("sh")
        .args(["-c", r#"sh -c 'read line' planted "$1"; :"#, "sh", needle])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let root = Arc::new(std::sync::atomic::AtomicU32::new(planted.id()));
    let scan = ProcScan::start(Scope::TreeOf(root), needle, &["read line", "planted"], false);
    let started = Instant::now();
    while !scan.witnessed() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    let (hits, _) = scan.finish();
    // EOF on its stdin ends the child's `read`, then the parent shell ends too: nothing is killed or left behind.
    drop(planted.stdin.take());
    let _ = planted.wait();
    let child = hits.iter().find(|h| h.contains("read line planted"));
    let Some(child) = child else { panic!("the scanner missed the planted child: {hits:?}") };
    let pid = child.split(':').next().unwrap_or_default().to_string();
    crate::support::wait_until("planted child exits", Duration::from_secs(5), || {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        !cmdline.windows(needle.len()).any(|w| w == needle.as_bytes())
    });
}

// 8. The registry password never reaches a process argument list while `login` runs.
#[cfg(feature = "stand-ins")]
#[test]
fn login_never_puts_the_password_in_an_argv() {
    scanner_finds_a_planted_argv(PASSWORD);
    let ecr = Ecr::start();
    let work = Work::new("cli-argv");
    let root = Arc::new(std::sync::atomic::AtomicU32::new(0));
    // Only the binary's own process tree counts: the test harness itself puts the moto password on the command
    // lines of its bridge and of skopeo, in this and in parallel tests.
    // The witness is the binary's own `login` process: login runs no docker, so its lifetime is the moment that
    // matters.
    let scan = ProcScan::start(Scope::TreeOf(root.clone()), PASSWORD, &["login", "--engine", "docker"], false);
    let mut attempts = 0;
    while !scan.witnessed() && attempts < 20 {
        attempts += 1;
        let mut command = static_keys(work.ship(&["login", "--engine", "docker"]).against(&ecr)).command();
        let child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        root.store(child.id(), Ordering::SeqCst);
        let output = child.wait_with_output().expect("wait");
        root.store(0, Ordering::SeqCst);
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
        .success();
        assert_logged_in(&run, &work, &[HOST]);
    }
    let witnessed = scan.witnessed();
    let (hits, passes) = scan.finish();
    assert!(hits.is_empty(), "the registry password was in these argument lists: {hits:?}");
    assert!(witnessed, "the scan never saw `ecr-ship login` ({attempts} logins, {passes} passes)");
}

// 9. Bad input: exit 2, one line naming the value, and not a single connection anywhere.
#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let work = Work::new("cli-bad");
    single_image_layout(&work.path().join("oci"), "bad");
    std::fs::write(work.path().join("broken.json"), "{\"rules\": [").unwrap();
    std::fs::create_dir_all(work.path().join("a-directory.json")).unwrap();
    let sink = Tap::start(None);
    let oidc = Tap::start(None);
    let login = |extra: &[&str]| -> Vec<String> {
        ["login", "--engine", "docker"].iter().chain(extra).map(|a| a.to_string()).collect()
    };
    let push = |extra: &[&str]| -> Vec<String> {
        ["push", "--repository", "team/app", "--sha", SHA, "--branch", "main", "--from", "oci:oci"]
            .iter()
            .chain(extra)
            .map(|a| a.to_string())
            .collect()
    };
    let long_session = "s".repeat(65);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (login(&["--role-arn", "arn:aws:iam::12345:role/ci-push"]), "arn:aws:iam::12345:role/ci-push"),
        (login(&["--role-arn", "ci-push"]), "'ci-push'"),
        (
            login(&["--role-arn", "arn:aws-cn:iam::123456789012:role/ci-push"]),
            "arn:aws-cn:iam::123456789012:role/ci-push",
        ),
        (login(&["--region", "mars"]), "'mars'"),
        (login(&["--region", "US-EAST-1"]), "'US-EAST-1'"),
        (login(&["--role-arn", "arn:aws:iam::123456789012:role/ci-push", "--role-session-name", "x"]), "'x'"),
        (
            login(&["--role-arn", "arn:aws:iam::123456789012:role/ci-push", "--role-session-name", &long_session]),
            &long_session,
        ),
        (
            login(&["--registry", "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example"]),
            "amazonaws.com.evil.example",
        ),
        (login(&["--registries", "123456789012.dkr.ecr.us-east-1.amazonaws.co"]), "amazonaws.co'"),
        (push(&["--registry", "123456789012.dkr.ecr.us-east-1.example.com"]), "dkr.ecr.us-east-1.example.com"),
        // A role can only be assumed in its own partition, so the extra registry's login could never work.
        (
            login(&["--role-arn", "arn:aws:iam::123456789012:role/ci-push", "--registries", CN_HOST]),
            "arn:aws:iam::123456789012:role/ci-push",
        ),
        (push(&["--create-repository", "--lifecycle-policy", "missing.json"]), "missing.json"),
        (push(&["--create-repository", "--lifecycle-policy", "a-directory.json"]), "a-directory.json"),
        (push(&["--create-repository", "--lifecycle-policy", "broken.json"]), "broken.json"),
        (push(&["--mutability-exclusion", "latest", "--tag-mutability", "MUTABLE"]), "MUTABLE"),
        (push(&["--tag-mutability", "IMMUTABLE_WITH_EXCLUSION"]), "IMMUTABLE_WITH_EXCLUSION"),
        (push(&["--image", "app:latest"]), "--image"),
    ];
    for (args, needle) in &cases {
        let run = work
            .github(work.ship(&[]).args_from(args), "bad")
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", sink.url())
            .env("AWS_ENDPOINT_URL_ECR", sink.url())
            .env("AWS_ENDPOINT_URL_STS", sink.url())
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/token?api-version=2.0", oidc.url()))
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", oidc::REQUEST_TOKEN)
            .run();
        let shown = args.join(" ");
        assert_eq!(run.code, 2, "{shown}: exit code\nstderr:\n{}", run.stderr);
        assert_eq!(run.stdout, "", "{shown}: stdout");
        let errors: Vec<&str> = run.stderr.lines().filter(|l| l.contains("error")).collect();
        let [line, annotation @ ..] = errors.as_slice() else { panic!("{shown}: no error line:\n{}", run.stderr) };
        assert!(line.contains(needle), "{shown}: error line lacks {needle:?}: {line}");
        assert!(!run.stderr.contains("caused by"), "{shown}: one line, no cause chain:\n{}", run.stderr);
        // In GitHub Actions the same line may come again as an annotation; nothing else.
        assert!(annotation.iter().all(|a| a.starts_with("::error ")), "{shown}:\n{}", run.stderr);
        assert_eq!((sink.connections(), oidc.connections()), (0, 0), "{shown}: something was contacted");
        assert_no_leaks(&run, &work);
    }
    assert_eq!(work.read("bad.github_output"), "");
}

/// The harness of this file: the tap forwards and records, and counts connections.
#[test]
fn tap_forwards_records_and_counts() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = upstream.local_addr().unwrap().port();
    let echo = std::thread::spawn(move || {
        let (mut stream, _) = upstream.accept().unwrap();
        let mut buffer = [0u8; 5];
        stream.read_exact(&mut buffer).unwrap();
        stream.write_all(&buffer).unwrap();
    });
    let tap = Tap::start(Some(port));
    let mut client = TcpStream::connect(("127.0.0.1", tap.port)).unwrap();
    client.write_all(b"hello").unwrap();
    let mut answer = [0u8; 5];
    client.read_exact(&mut answer).unwrap();
    echo.join().unwrap();
    assert_eq!(&answer, b"hello");
    assert_eq!((tap.connections(), tap.sent()), (1, "hello".to_string()));
}

/// The leak check can fail: a secret planted in a file of the scratch space, in stderr, or as the JWT of the OIDC
/// stand-in is reported, while the same secret in the engine's credential store is allowed.
#[test]
fn leak_check_finds_planted_secrets() {
    let work = Work::new("cli-leak-check");
    let clean = Run { code: 0, stdout: String::new(), stderr: String::new() };
    std::fs::write(work.docker_config(), format!(r#"{{"auths":{{"h":{{"auth":"{}"}}}}}}"#, basic("AWS", PASSWORD)))
        .unwrap();
    assert_no_leaks(&clean, &work);
    let fails = |run: &Run, more: &[&str]| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_no_leaks_of(run, &work, more))).is_err()
    };
    let printed = |text: String| Run { code: 0, stdout: String::new(), stderr: text };
    assert!(fails(&printed(format!("token {}", oidc::jwt("sts.amazonaws.com"))), &[]), "JWT in stderr");
    assert!(fails(&printed(format!("x{SECRET_KEY}x")), &[]), "static secret in stderr");
    assert!(fails(&printed("own-iam-secret".into()), &["own-iam-secret"]), "a test's own secret");
    std::fs::write(work.path().join("tmp/left-behind"), format!("password={PASSWORD}")).unwrap();
    assert!(fails(&clean, &[]), "password in a file the run left");
}

/// amazon-ecr-login's `registries:` takes account ids: a bare id is that account's registry in the job's region,
/// logged in to like its host; in GitHub Actions `login` writes the `registry` output, as amazon-ecr-login does.
#[cfg(feature = "stand-ins")]
#[test]
fn login_takes_account_ids_and_writes_the_registry_output_on_github() {
    let ecr = Ecr::start_with_names(&[OTHER_HOST]);
    let work = Work::new("cli-login-account-ids");
    let other_account = OTHER_HOST.split('.').next().unwrap();
    let github_output = work.path().join("github-output");
    std::fs::write(&github_output, "").unwrap();
    let run = static_keys(work.ship(&["login", "--engine", "docker", "--registries", other_account]).against(&ecr))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", github_output.display().to_string())
        .run()
        .success();
    assert_logged_in(&run, &work, &[HOST, OTHER_HOST]);
    assert_eq!(std::fs::read_to_string(&github_output).unwrap(), format!("registry={HOST}\n"));
    assert_no_leaks(&run, &work);
}

/// Advice names a setting the way the user gives it: a flag on the command line, an input in the GitHub Action
/// (which marks its runs with ECR_SHIP_VIA=github-action). And a registry whose account no answer named yet is
/// "the caller's registry", never a placeholder.
#[cfg(feature = "stand-ins")]
#[test]
fn a_missing_repository_is_explained_in_the_words_of_the_surface() {
    let ecr = Ecr::start();
    let work = Work::new("cli-surface-words");
    single_image_layout(&work.path().join("oci"), "surface");
    let push = |via: Option<&str>| {
        let mut ship = static_keys(
            work.ship(&["push", "--repository", "team/absent", "--from", "oci:oci", "--sha", SHA]).against(&ecr),
        );
        if let Some(via) = via {
            ship = ship.env("ECR_SHIP_VIA", via);
        }
        ship.run()
    };
    let cli = push(None);
    assert_eq!(cli.code, 1, "{}", cli.stderr);
    assert!(cli.stderr.contains("pass --create-repository (ECR_SHIP_CREATE_REPOSITORY=true)"), "{}", cli.stderr);
    let action = push(Some("github-action"));
    assert_eq!(action.code, 1, "{}", action.stderr);
    assert!(action.stderr.contains("set the input `create-repository: true`"), "{}", action.stderr);
    for run in [&cli, &action] {
        assert!(!run.stderr.contains("<the caller's account>"), "{}", run.stderr);
        assert!(run.stderr.contains("'team/absent' does not exist in"), "{}", run.stderr);
    }
}
