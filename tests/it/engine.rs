//! The container-engine adapter against real engines: an isolated dockerd, podman with its own store, and Debian's
//! docker-registry. These tests own the adapter's promises: engine detection, login that writes the engine's own
//! credentials file (or docker's credential helper) itself, with no engine process and no network, keeping every
//! other entry of the file and its permissions, and with the password in no process's argv or environment nor in
//! the engine output we pass on; logout that removes exactly what login added and restores what it replaced; and
//! a push whose returned digest is the one the registry serves.
//!
//! Each test uses a password made up for it and registered with its registry, so a scan of every process on the
//! machine cannot be confused by the shared test password other tests put on command lines.

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ecr_ship::engine::{Engine, EngineChoice, EngineKind, LoginRecord, Secret};
use ecr_ship::error::{EXIT_BAD_INPUT, EXIT_FAILURE, exit_code};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::support::dockerd::Dockerd;
use crate::support::podman::Podman;
use crate::support::proc_scan::{ProcScan, Scope, processes_containing};
use crate::support::registry::Registry;

const USER: &str = "ecr-ship-engine-test";

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("randomness");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds `user` with `password` to the registry's htpasswd file (the password goes to htpasswd on stdin) and waits
/// until the registry, which re-reads the file when it changes, accepts it.
fn add_registry_user(registry: &Registry, user: &str, password: &str) {
    let mut child = Command::new("htpasswd")
        .args(["-iBn", user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("htpasswd (apache2-utils)");
    child.stdin.take().expect("stdin").write_all(password.as_bytes()).expect("write password");
    let output = child.wait_with_output().expect("htpasswd");
    assert!(output.status.success());
    let file = registry.dir.path().join("htpasswd");
    let mut existing = std::fs::read(&file).expect("read htpasswd");
    if !existing.ends_with(b"\n") {
        existing.push(b'\n');
    }
    existing.extend_from_slice(&output.stdout);
    std::fs::write(&file, existing).expect("write htpasswd");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    crate::support::wait_until("registry accepts the test user", Duration::from_secs(10), || {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", registry.port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic {basic}\r\n\r\n");
        let mut head = [0u8; 12];
        stream.write_all(request.as_bytes()).is_ok() && stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
    });
}

/// Proves the scanner can fail: a sleeping process with the password in its argv, and one with it in its
/// environment, must both be found, and must be gone (killed and reaped) before the real check starts.
fn scanner_finds_a_planted_password(password: &str) {
    // `read` is a shell builtin, so the shell waits on its (never written) stdin without a child process that
    // could outlive the kill below.
    let plant = |argv: &[&str], env: &[(&str, &str)]| {
        Command::new("sh").args(argv).envs(env.iter().copied()).stdin(Stdio::piped()).spawn().expect("spawn sh")
    };
    let in_argv = plant(&["-c", "read line", password], &[]);
    let in_env = plant(&["-c", "read line"], &[("PLANTED", password)]);
    let mut planted = [in_argv, in_env];
    let wanted: Vec<String> = planted.iter().map(|p| format!("{}:", p.id())).collect();
    let started = Instant::now();
    let mut hits = Vec::new();
    while !wanted.iter().all(|w| hits.iter().any(|h: &String| h.starts_with(w.as_str())))
        && started.elapsed() < Duration::from_secs(5)
    {
        hits = processes_containing(password.as_bytes());
    }
    for process in &mut planted {
        let _ = process.kill();
        let _ = process.wait();
    }
    for w in &wanted {
        assert!(hits.iter().any(|h| h.starts_with(w.as_str())), "the scanner missed planted process {w} {hits:?}");
    }
    assert!(processes_containing(password.as_bytes()).is_empty(), "planted process still visible");
}

/// Collects everything the engine would print as progress.
fn capture_progress(engine: Engine) -> (Engine, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let engine = engine.with_progress(move |line| sink.lock().expect("progress lock").push(line.to_string()));
    (engine, lines)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read credentials file")).expect("credentials JSON")
}

fn write_json(path: &Path, value: &Value) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, serde_json::to_string_pretty(value).expect("json")).expect("write credentials file");
}

fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// The digest of the manifest the registry serves for `reference`, read with skopeo (credentials from an auth
/// file, so no password is put on a command line) and hashed here.
fn registry_digest(reference: &str, host: &str, password: &str, scratch: &Path) -> String {
    let auth = scratch.join("skopeo-auth.json");
    write_json(&auth, &json!({"auths": {host: {"auth": basic(USER, password)}}}));
    let output = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--authfile"])
        .arg(&auth)
        .arg(format!("docker://{reference}"))
        .output()
        .expect("run skopeo");
    assert!(output.status.success(), "skopeo inspect {reference}: {}", String::from_utf8_lossy(&output.stderr));
    let hash = sha2::Sha256::digest(&output.stdout);
    format!("sha256:{}", hash.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Login verifies nothing (the token was just issued): a wrong password shows at push time as the registry's
/// refusal, never in the message, and logout still puts back `before` in the credentials file `file`.
async fn a_wrong_password_fails_at_push_and_logout_restores(
    engine: &Engine,
    env: &BTreeMap<String, String>,
    host: &str,
    local: &str,
    remote: &str,
    file: &Path,
    before: &Value,
) {
    let wrong = format!("wrong-{}", random_hex(8));
    let record = login_without_engine(engine.kind(), env, host, &wrong).await;
    engine.tag(local, remote).await.expect("tag again");
    let message = format!("{:#}", engine.push(remote).await.unwrap_err());
    assert!(message.contains(&format!("{} push of", engine.kind())) && message.contains(host), "{message}");
    assert!(!message.contains(&wrong) && !message.contains(&basic(USER, &wrong)), "{message}");
    engine.remove_tag(remote).await.expect("remove_tag after the refused push");
    engine.logout(&[record]).await.expect("logout after the refused push");
    assert_eq!(read_json(file), *before, "logout restores the earlier entry");
}

/// Logs in through an engine whose program does not exist, so the login succeeds only if it runs no engine
/// process: the credential is written straight into the engine's store.
async fn login_without_engine(
    kind: EngineKind,
    env: &BTreeMap<String, String>,
    host: &str,
    password: &str,
) -> LoginRecord {
    let missing = std::path::PathBuf::from(format!("/nonexistent/ecr-ship-test/{kind}"));
    let engineless = Engine::new(kind, missing, env.clone());
    engineless.login(host, USER, &Secret::new(password)).await.expect("login without running the engine")
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Writes a credentials file the way the engines create theirs: owner-only.
fn write_private_json(path: &Path, value: &Value) {
    use std::os::unix::fs::PermissionsExt;
    write_json(path, value);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod credentials file");
}

/// Logs in (the podman login a credential helper still needs) while the scanner watches, retrying until the
/// scanner has seen the login command itself (a login takes tens of milliseconds), then checks nothing anywhere
/// showed the password.
async fn login_watched(engine: &Engine, host: &str, password: &str) -> LoginRecord {
    scanner_finds_a_planted_password(password);
    let scan = ProcScan::start(Scope::All, password, &["login", USER], true);
    let secret = Secret::new(password);
    let mut attempts = 0;
    let record = loop {
        attempts += 1;
        let record = engine.login(host, USER, &secret).await.expect("login");
        if scan.witnessed() || attempts == 30 {
            break record;
        }
        engine.logout(std::slice::from_ref(&record)).await.expect("logout between attempts");
    };
    let witnessed = scan.witnessed();
    let (hits, passes) = scan.finish();
    assert!(hits.is_empty(), "the password was visible in these processes: {hits:?}");
    assert!(
        witnessed,
        "the scanner never saw the {} login process ({attempts} logins, {passes} passes)",
        engine.kind()
    );
    record
}

/// Writes `docker-credential-ecrshiptest`, a credential helper (python3) keeping one JSON file per server URL in
/// the dir named by `HELPER_STORE`.
fn write_credential_helper(bin: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(bin).expect("mkdir helper bin");
    let script = r#"#!/usr/bin/env python3
import json, os, sys
store = os.environ["HELPER_STORE"]
action, data = sys.argv[1], sys.stdin.read()
if action == "store":
    entry = json.loads(data)
    with open(os.path.join(store, entry["ServerURL"]), "w") as f:
        json.dump(entry, f)
elif action in ("get", "erase"):
    path = os.path.join(store, data.strip())
    if not os.path.exists(path):
        print("credentials not found in native keychain")
        sys.exit(1)
    if action == "get":
        sys.stdout.write(open(path).read())
    else:
        os.remove(path)
elif action == "list":
    print("{}")
"#;
    let file = bin.join("docker-credential-ecrshiptest");
    std::fs::write(&file, script).expect("write helper");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).expect("chmod helper");
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn unknown_engine_is_bad_input_and_detection_needs_an_engine() {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_string(), std::env::var("PATH").unwrap_or_default());
    let error = EngineChoice::parse("containerd").unwrap_err();
    assert_eq!(exit_code(&error), EXIT_BAD_INPUT);
    assert!(error.to_string().contains("containerd"), "{error}");

    // An explicitly requested engine that is not installed is a configuration mistake.
    let scratch = crate::support::scratch_dir("engine-detect");
    let only_docker = scratch.path().join("bin");
    std::fs::create_dir_all(&only_docker).expect("mkdir");
    let docker = which("docker");
    std::os::unix::fs::symlink(&docker, only_docker.join("docker")).expect("symlink docker");
    let mut env = BTreeMap::new();
    env.insert("PATH".to_string(), only_docker.display().to_string());
    env.insert("HOME".to_string(), scratch.path().display().to_string());
    let error = Engine::detect(EngineChoice::Podman, &env).await.unwrap_err();
    assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{error:#}");

    // Auto with docker on PATH but no daemon behind DOCKER_HOST, and no podman: a failure naming both.
    env.insert("DOCKER_HOST".to_string(), format!("unix://{}/nothing.sock", scratch.path().display()));
    let error = Engine::detect(EngineChoice::Auto, &env).await.unwrap_err();
    assert_eq!(exit_code(&error), EXIT_FAILURE, "{error:#}");
    let message = error.to_string();
    assert!(message.contains("docker cannot reach a daemon") && message.contains("podman is not on PATH"), "{message}");
    assert_eq!(Engine::detect(EngineChoice::Docker, &env).await.expect("explicit docker").kind(), EngineKind::Docker);

    // The same without a daemon but with podman on PATH picks podman.
    let mut env_with_podman = env.clone();
    env_with_podman.insert("PATH".to_string(), std::env::var("PATH").unwrap_or_default());
    assert_eq!(Engine::detect(EngineChoice::Auto, &env_with_podman).await.expect("auto").kind(), EngineKind::Podman);
}

fn which(program: &str) -> std::path::PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file()).expect("program on PATH")
}

/// Login is local: to a host where a listener accepts nothing it succeeds and the listener sees no connection. It
/// creates a missing credentials file owner-only (directory 0700, file 0600), keeps an existing file's other keys
/// and its owner's permissions but none for group or others, and writes a symlinked file's target, leaving the
/// symlink in place.
#[tokio::test]
async fn login_writes_the_store_itself_and_opens_no_connection() {
    use std::os::unix::fs::PermissionsExt;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let host = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let password = format!("pw-{}", random_hex(16));
    let entry = json!({"auth": basic(USER, &password)});
    let scratch = crate::support::scratch_dir("engine-login-local");

    let fresh_dir = scratch.path().join("fresh/docker");
    let env = BTreeMap::from([("DOCKER_CONFIG".to_string(), fresh_dir.display().to_string())]);
    login_without_engine(EngineKind::Docker, &env, &host, &password).await;
    assert_eq!(read_json(&fresh_dir.join("config.json")), json!({"auths": {&host: entry}}));
    assert_eq!(mode(&fresh_dir.join("config.json")), 0o600);
    assert_eq!(mode(&fresh_dir), 0o700);
    assert_eq!(mode(&scratch.path().join("fresh")), 0o700, "missing parents are private too");

    let linked_dir = scratch.path().join("linked");
    let target = scratch.path().join("dotfiles/docker-config.json");
    let before = json!({"auths": {"other.example": {"auth": basic("x", "y")}}, "credHelpers": {"gcr.io": "gcloud"}, "detachKeys": "ctrl-e,e"});
    write_json(&target, &before);
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    std::fs::create_dir_all(&linked_dir).expect("mkdir");
    std::os::unix::fs::symlink("../dotfiles/docker-config.json", linked_dir.join("config.json")).expect("symlink");
    let env = BTreeMap::from([("DOCKER_CONFIG".to_string(), linked_dir.display().to_string())]);
    login_without_engine(EngineKind::Docker, &env, &host, &password).await;
    assert!(std::fs::symlink_metadata(linked_dir.join("config.json")).expect("lstat").file_type().is_symlink());
    let mut expected = before.clone();
    expected["auths"][&host] = entry.clone();
    assert_eq!(read_json(&target), expected, "the symlink's target holds the entry and everything it had");
    assert_eq!(mode(&target), 0o600, "a file that holds a credential is its owner's alone");

    let auth_file = scratch.path().join("podman/auth.json");
    let before = json!({"auths": {"quay.io": {"auth": basic("q", "r")}}});
    write_private_json(&auth_file, &before);
    let env = BTreeMap::from([("REGISTRY_AUTH_FILE".to_string(), auth_file.display().to_string())]);
    login_without_engine(EngineKind::Podman, &env, &format!("https://{host}/"), &password).await;
    let mut expected = before.clone();
    expected["auths"][&host] = entry.clone();
    assert_eq!(read_json(&auth_file), expected);
    assert_eq!(mode(&auth_file), 0o600);

    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("login connected to the registry host: {other:?}"),
    }
    let leftovers: Vec<_> = walk(scratch.path())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(".ecr-ship-")))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left: {leftovers:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn docker_login_push_logout_against_real_registry() {
    let registry = Registry::start();
    let host = registry.host();
    let password = format!("pw-{}", random_hex(16));
    add_registry_user(&registry, USER, &password);
    let mut dockerd = Dockerd::start();
    eprintln!("dockerd ready in {:?}", dockerd.started_in);
    let config_dir = dockerd.dir.path().join("docker-config");
    let config_file = config_dir.join("config.json");
    let env = dockerd.env(&config_dir);

    let engine = Engine::detect(EngineChoice::Auto, &env).await.expect("detect");
    assert_eq!(engine.kind(), EngineKind::Docker, "a reachable daemon means docker");
    let (engine, progress) = capture_progress(engine);
    assert_eq!(engine.auth_file().expect("auth file"), config_file);

    // A config with other content and no entry for this host: login adds exactly the host's entry, without
    // running docker, and logout must leave exactly this behind.
    let original = json!({"auths": {"other.example:5000": {"auth": basic("x", "y")}}, "psFormat": "table"});
    write_private_json(&config_file, &original);
    let record = login_without_engine(engine.kind(), &env, &format!("https://{host}"), &password).await;
    assert_eq!(record.host(), host, "the https:// prefix is removed before login");
    assert!(!record.replaced_existing());
    let mut expected = original.clone();
    expected["auths"][&host] = json!({"auth": basic(USER, &password)});
    assert_eq!(read_json(&config_file), expected);
    assert_eq!(mode(&config_file), 0o600);

    // Push a scratch image under a temporary remote name and compare the digest with the registry's.
    let local = format!("ecr-ship-test/app:{}", random_hex(4));
    dockerd.build_scratch_image(&local, &[("hello.txt", random_hex(32).as_bytes())]);
    assert!(engine.image_exists(&local).await.expect("image_exists"));
    assert!(!engine.image_exists("ecr-ship-test/absent:v0").await.expect("image_exists absent"));
    let remote = format!("{host}/team/app:tmp-{}", random_hex(4));
    engine.tag(&local, &remote).await.expect("tag");
    let pushed = engine.push(&remote).await.expect("push");
    assert_eq!(pushed.digest, registry_digest(&remote, &host, &password, dockerd.dir.path()));
    engine.remove_tag(&remote).await.expect("remove_tag");
    assert!(!engine.image_exists(&remote).await.expect("image_exists remote"));
    assert!(engine.image_exists(&local).await.expect("local image survives"));
    engine.remove_tag(&remote).await.expect("removing a missing tag is done already");

    engine.logout(&[record]).await.expect("logout");
    assert_eq!(read_json(&config_file), original, "logout removes exactly the added entry");

    // A host entry that existed before (under the https:// spelling, which docker logout also removes) comes back.
    let before = json!({"auths": {format!("https://{host}"): {"auth": basic("AWS", "old-token")}, "other.example:5000": {"auth": basic("x", "y")}}});
    write_private_json(&config_file, &before);
    let record = login_without_engine(engine.kind(), &env, &host, &password).await;
    assert!(record.replaced_existing());
    assert_eq!(read_json(&config_file)["auths"][&host]["auth"], basic(USER, &password));
    engine.logout(&[record]).await.expect("logout restores");
    assert_eq!(read_json(&config_file), before, "logout restores the earlier entry");

    // With a credential helper (a real one speaking the docker-credential-helpers protocol, keeping files in a
    // scratch dir) the earlier credential lives in the helper: login overwrites it there, without running docker,
    // and leaves config.json an empty entry for the host in place of a stale `auth`, as docker login does; logout
    // stores the earlier credential back.
    let helper_bin = dockerd.dir.path().join("helper-bin");
    let helper_store = dockerd.dir.path().join("helper-store");
    write_credential_helper(&helper_bin);
    let mut helper_env = env.clone();
    helper_env.insert("PATH".into(), format!("{}:{}", helper_bin.display(), env["PATH"]));
    helper_env.insert("HELPER_STORE".into(), helper_store.display().to_string());
    let helper_engine = Engine::new(EngineKind::Docker, engine.program().to_path_buf(), helper_env.clone());
    std::fs::create_dir_all(&helper_store).expect("mkdir helper store");
    let old = json!({"ServerURL": host, "Username": "AWS", "Secret": "old-token"});
    std::fs::write(helper_store.join(&host), old.to_string()).expect("seed helper");
    let with_helper = json!({"auths": {&host: {"auth": basic("AWS", "stale")}, "other.example:5000": {}}, "credsStore": "ecrshiptest"});
    write_private_json(&config_file, &with_helper);
    let record = login_without_engine(helper_engine.kind(), &helper_env, &host, &password).await;
    assert!(record.replaced_existing());
    let stored: Value =
        serde_json::from_slice(&std::fs::read(helper_store.join(&host)).expect("helper file")).expect("json");
    assert_eq!(stored, json!({"ServerURL": host, "Username": USER, "Secret": password}), "login stored in the helper");
    let mut expected = with_helper.clone();
    expected["auths"][&host] = json!({});
    assert_eq!(read_json(&config_file), expected, "config.json keeps no stale auth for the host");
    helper_engine.logout(&[record]).await.expect("logout via helper");
    let stored: Value =
        serde_json::from_slice(&std::fs::read(helper_store.join(&host)).expect("helper file")).expect("json");
    assert_eq!(stored, old, "logout put the earlier credential back into the helper");
    assert_eq!(read_json(&config_file), with_helper);
    write_json(&config_file, &before);

    a_wrong_password_fails_at_push_and_logout_restores(&engine, &env, &host, &local, &remote, &config_file, &before)
        .await;

    let lines = progress.lock().expect("progress").clone();
    assert!(lines.iter().any(|l| l.contains("digest: sha256:")), "push progress was passed on: {lines:?}");
    assert!(lines.iter().all(|l| !l.contains(&password) && !l.contains(&basic(USER, &password))), "{lines:?}");

    let stopped_in = dockerd.stop();
    eprintln!("dockerd stopped in {stopped_in:?}");
}

#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn podman_login_push_logout_against_real_registry() {
    let registry = Registry::start();
    let host = registry.host();
    let password = format!("pw-{}", random_hex(16));
    add_registry_user(&registry, USER, &password);
    let podman = Podman::new(&[&host]);
    let auth_file = podman.auth_file();
    let mut env = podman.env();
    // No daemon at DOCKER_HOST, so auto must fall back to podman even though docker is on PATH.
    env.insert("DOCKER_HOST".into(), format!("unix://{}/no-docker.sock", podman.dir.path().display()));
    let engine = Engine::detect(EngineChoice::Auto, &env).await.expect("detect");
    assert_eq!(engine.kind(), EngineKind::Podman);
    let (engine, progress) = capture_progress(engine);
    assert_eq!(engine.auth_file().expect("auth file"), auth_file);

    let original = json!({"auths": {"other.example:5000": {"auth": basic("x", "y")}}, "credHelpers": {"other.example:5000": "none"}});
    write_private_json(&auth_file, &original);
    let record = login_without_engine(engine.kind(), &env, &host, &password).await;
    assert!(!record.replaced_existing());
    let mut expected = original.clone();
    expected["auths"][&host] = json!({"auth": basic(USER, &password)});
    assert_eq!(read_json(&auth_file), expected);
    assert_eq!(mode(&auth_file), 0o600);

    let local = format!("localhost/ecr-ship-test/pod:{}", random_hex(4));
    podman.build_scratch_image(&local, &[("hello.txt", random_hex(32).as_bytes())]);
    assert!(engine.image_exists(&local).await.expect("image_exists"));
    assert!(!engine.image_exists("localhost/ecr-ship-test/absent:v0").await.expect("image_exists absent"));
    let remote = format!("{host}/team/pod:tmp-{}", random_hex(4));
    engine.tag(&local, &remote).await.expect("tag");
    let pushed = engine.push(&remote).await.expect("push");
    assert_eq!(pushed.digest, registry_digest(&remote, &host, &password, podman.dir.path()));
    engine.remove_tag(&remote).await.expect("remove_tag");
    assert!(!engine.image_exists(&remote).await.expect("image_exists remote"));
    assert!(engine.image_exists(&local).await.expect("local image survives"));
    engine.remove_tag(&remote).await.expect("removing a missing tag is done already");

    engine.logout(&[record]).await.expect("logout");
    assert_eq!(read_json(&auth_file), original, "logout removes exactly the added entry");

    let before =
        json!({"auths": {&host: {"auth": basic("AWS", "old-token")}, "other.example:5000": {"auth": basic("x", "y")}}});
    write_private_json(&auth_file, &before);
    let record = login_without_engine(engine.kind(), &env, &host, &password).await;
    assert!(record.replaced_existing());
    engine.logout(&[record]).await.expect("logout restores");
    assert_eq!(read_json(&auth_file), before, "logout restores the earlier entry");

    a_wrong_password_fails_at_push_and_logout_restores(&engine, &env, &host, &local, &remote, &auth_file, &before)
        .await;

    // A credential helper named for the host in auth.json is podman's to drive: login runs `podman login`, the
    // password on its stdin only, and the credential lands in the helper.
    let helper_bin = podman.dir.path().join("helper-bin");
    let helper_store = podman.dir.path().join("helper-store");
    write_credential_helper(&helper_bin);
    std::fs::create_dir_all(&helper_store).expect("mkdir helper store");
    let mut helper_env = env.clone();
    helper_env.insert("PATH".into(), format!("{}:{}", helper_bin.display(), env["PATH"]));
    helper_env.insert("HELPER_STORE".into(), helper_store.display().to_string());
    let helper_engine = Engine::new(EngineKind::Podman, engine.program().to_path_buf(), helper_env);
    let with_helper = json!({"auths": {"other.example:5000": {}}, "credHelpers": {&host: "ecrshiptest"}});
    write_private_json(&auth_file, &with_helper);
    let record = login_watched(&helper_engine, &host, &password).await;
    let stored: Value =
        serde_json::from_slice(&std::fs::read(helper_store.join(&host)).expect("helper file")).expect("json");
    assert_eq!(stored["Secret"], password.as_str(), "podman login stored the credential in the helper");
    helper_engine.logout(&[record]).await.expect("logout via helper");
    assert!(!helper_store.join(&host).exists(), "logout erased the helper's credential");
    assert_eq!(read_json(&auth_file), with_helper);

    let lines = progress.lock().expect("progress").clone();
    assert!(lines.iter().all(|l| !l.contains(&password) && !l.contains(&basic(USER, &password))), "{lines:?}");
}

/// A docker CLI stand-in whose `push` and `save` hang: it answers the inspections and records every call (login runs no
/// docker, so it has none), so a test can stop ecr-ship in the middle of a push.
fn hanging_docker(dir: &Path) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = r#"#!/bin/sh
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$1" in
  version) echo 27.0.0 ;;
  image) case "$4" in *RepoDigests*) echo '[]' ;; *) echo sha256:0000000000000000000000000000000000000000000000000000000000000000 ;; esac ;;
  logout) printf '{"auths":{}}\n' > "$DOCKER_CONFIG/config.json" ;;
  tag|rmi) ;;
  push) touch "$FAKE_DOCKER_LOG.push-started"; exec sleep 60 ;;
  save) printf 'half an archive' > "$3"; touch "$FAKE_DOCKER_LOG.save-started"; exec sleep 60 ;;
esac
"#;
    crate::support::write_executable(&bin.join("docker"), script);
    bin
}

/// The time limit and SIGTERM bound the push, not its cleanup: stopped mid-push through the engine
/// (`--transfer engine`), ecr-ship still removes its registry login from the engine's store and the temporary local
/// name, so no 12-hour token is left behind.
#[cfg(feature = "stand-ins")]
#[test]
fn a_push_stopped_by_its_timeout_or_sigterm_still_logs_out() {
    use crate::support::ecr::{Ecr, HOST};
    let ecr = Ecr::start();
    for stop in ["timeout", "SIGTERM"] {
        let dir = crate::support::scratch_dir(&format!("engine-stop-{stop}"));
        let bin = hanging_docker(dir.path());
        let config = dir.path().join("docker-config");
        let log = dir.path().join("docker.log");
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let mut ship = crate::support::Ship::new(&["push", "--repository", "team/stopped", "--create-repository"])
            .args_from(&["--image".into(), "app:latest".into(), "--engine".into(), "docker".into()])
            .args_from(&["--transfer".into(), "engine".into()])
            .args_from(&[
                "--sha".into(),
                "3f786850e387550fdab836ed7e6dc881de23001b".into(),
                "--branch".into(),
                "main".into(),
            ])
            .against(&ecr)
            .env("PATH", path)
            .env("DOCKER_CONFIG", config.display().to_string())
            .env("FAKE_DOCKER_LOG", log.display().to_string())
            .cwd(dir.path());
        if stop == "timeout" {
            ship = ship.args_from(&["--timeout".into(), "8".into()]);
        }
        let child = ship.command().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        let started = Instant::now();
        let marker = dir.path().join("docker.log.push-started");
        while !marker.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the push never started: {:?}",
                std::fs::read_to_string(&log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let logged_in = std::fs::read_to_string(config.join("config.json")).unwrap();
        assert!(logged_in.contains(HOST), "logged in before the push: {logged_in}");
        if stop == "SIGTERM" {
            let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
            assert!(status.success());
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(i32::from(EXIT_FAILURE)), "{stop}: {stderr}");
        let expected = if stop == "timeout" { "did not finish within --timeout 8s" } else { "stopped by SIGTERM" };
        assert!(stderr.contains(expected), "{stop}: {stderr}");
        let after = std::fs::read_to_string(config.join("config.json")).unwrap();
        assert!(!after.contains(HOST), "{stop}: the login is gone from the engine's store: {after}\n{stderr}");
        let calls = std::fs::read_to_string(&log).unwrap();
        assert!(calls.contains(&format!("rmi --no-prune {HOST}/team/stopped:sha-3f78685")), "{stop}: {calls}");
        assert!(
            !calls.lines().any(|call| call.starts_with("login") || call.starts_with("logout")),
            "{stop}: login and logout ran no docker (they edit the store themselves): {calls}"
        );
    }
}

/// The default push of a docker image starts with its export: stopped there by SIGTERM, the half-written archive and
/// its private directory are gone, and docker was never logged in, tagged or asked to push.
#[cfg(feature = "stand-ins")]
#[test]
fn a_default_push_stopped_during_the_export_leaves_no_archive() {
    let dir = crate::support::scratch_dir("engine-stop-save");
    let bin = hanging_docker(dir.path());
    let (config, log, tmp) = (dir.path().join("docker-config"), dir.path().join("docker.log"), dir.path().join("tmp"));
    std::fs::create_dir_all(&tmp).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let child = crate::support::Ship::new(&["push", "--repository", "team/stopped", "--region", "us-east-1"])
        .args_from(&["--image".into(), "app:latest".into(), "--engine".into(), "docker".into()])
        .args_from(&["--sha".into(), "3f786850e387550fdab836ed7e6dc881de23001b".into()])
        .env("PATH", path)
        .env("TMPDIR", tmp.display().to_string())
        .env("DOCKER_CONFIG", config.display().to_string())
        .env("FAKE_DOCKER_LOG", log.display().to_string())
        .cwd(dir.path())
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while !dir.path().join("docker.log.save-started").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the export never started: {:?}",
            std::fs::read_to_string(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1, "the export writes into its private directory");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(i32::from(EXIT_FAILURE)), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert!(left.is_empty(), "the export is removed: {left:?}");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.lines().all(|call| call.starts_with("save ")), "docker only exported: {calls}");
    assert!(!config.join("config.json").exists(), "docker was never logged in");
}

/// A docker engine whose program does not exist: whatever it does, it runs no engine process.
fn engineless(env: &BTreeMap<String, String>) -> Engine {
    Engine::new(EngineKind::Docker, "/nonexistent/ecr-ship-test/docker".into(), env.clone())
}

/// The keys of `auths` ecr-ship reserves for itself (parked earlier entries, notes for a later logout).
fn reserved_keys(config: &Value) -> Vec<String> {
    let auths = config["auths"].as_object().cloned().unwrap_or_default();
    auths.keys().filter(|k| k.contains(".invalid/")).cloned().collect()
}

/// Twenty `ecr-ship login`s at once into one docker config (each to a shared host and one of its own, as
/// `login --registries` does), from threads of their own: every credential entry and every recorded host is kept,
/// and one `logout` afterwards leaves exactly the file there was before (the shared host's earlier entry back).
#[test]
fn parallel_logins_sharing_one_store_keep_every_entry_and_logout_restores_exactly() {
    let scratch = crate::support::scratch_dir("engine-parallel-logins");
    let config_dir = scratch.path().join("docker");
    let config_file = config_dir.join("config.json");
    const SHARED: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    let original = json!({
        "auths": {
            SHARED: {"auth": basic("AWS", "the-users-own-token")},
            "ghcr.io": {"auth": basic("octocat", "ghp_unrelated")},
        },
        "detachKeys": "ctrl-e,e",
    });
    write_private_json(&config_file, &original);
    let env = BTreeMap::from([("DOCKER_CONFIG".to_string(), config_dir.display().to_string())]);
    let own_host = |i: usize| format!("1000000000{i:02}.dkr.ecr.us-east-1.amazonaws.com");
    let runs: Vec<_> = (0..20)
        .map(|i| {
            let env = env.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    let engine = engineless(&env);
                    let password = Secret::new(format!("token-{i}"));
                    engine.login_remembered(SHARED, "AWS", &password).await.expect("login to the shared host");
                    engine.login_remembered(&own_host(i), "AWS", &password).await.expect("login to its own host");
                })
            })
        })
        .collect();
    for run in runs {
        run.join().expect("login thread");
    }
    let after = read_json(&config_file);
    let auths = after["auths"].as_object().unwrap();
    for i in 0..20 {
        assert_eq!(auths[&own_host(i)]["auth"], basic("AWS", &format!("token-{i}")), "{}", own_host(i));
    }
    assert!(auths[SHARED]["auth"].as_str().is_some_and(|a| a != basic("AWS", "the-users-own-token")));
    assert_eq!(auths["ghcr.io"], original["auths"]["ghcr.io"]);
    assert_eq!(mode(&config_file), 0o600);
    let record = read_json(&config_dir.join("ecr-ship-logins.json"));
    let mut hosts: Vec<String> =
        record["hosts"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect();
    hosts.sort();
    let mut expected: Vec<String> = (0..20).map(own_host).chain([SHARED.to_string()]).collect();
    expected.sort();
    assert_eq!(hosts, expected, "every login is recorded once");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let logged_out = runtime.block_on(engineless(&env).logout_remembered()).expect("logout");
    assert_eq!(logged_out.len(), 21);
    assert_eq!(read_json(&config_file), original, "logout leaves exactly what there was before");
    assert!(!config_dir.join("ecr-ship-logins.json").exists());
}

/// Two pushes sharing one docker config log in to the same host: whichever logs out first leaves the other's
/// credential in place (it is in use), and once both are out the user's earlier entry is back, in either order.
#[tokio::test]
async fn a_push_logout_removes_only_its_own_credential() {
    let scratch = crate::support::scratch_dir("engine-exact-logout");
    let config_dir = scratch.path().join("docker");
    let config_file = config_dir.join("config.json");
    let host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    let earlier = json!({"auth": basic("AWS", "earlier")});
    let env = BTreeMap::from([("DOCKER_CONFIG".to_string(), config_dir.display().to_string())]);
    let engine = engineless(&env);
    for (first_out, second_out) in [(0, 1), (1, 0)] {
        let original = json!({"auths": {host: earlier, "quay.io": {"auth": basic("q", "r")}}});
        write_private_json(&config_file, &original);
        let runs = [
            engine.login(host, "AWS", &Secret::new("token-a")).await.expect("login a"),
            engine.login(host, "AWS", &Secret::new("token-b")).await.expect("login b"),
        ];
        engine.logout(std::slice::from_ref(&runs[first_out])).await.expect("first logout");
        let survivor = ["token-a", "token-b"][second_out];
        assert_eq!(
            read_json(&config_file)["auths"][host]["auth"],
            basic("AWS", survivor),
            "run {first_out}'s logout left run {second_out}'s credential"
        );
        engine.logout(std::slice::from_ref(&runs[second_out])).await.expect("second logout");
        let after = read_json(&config_file);
        assert_eq!(after, original, "both out ({first_out} first): the earlier entry is back, no notes left");
        assert!(reserved_keys(&after).is_empty());
    }

    // A host with no entry before: the same, ending with no entry.
    write_private_json(&config_file, &json!({"auths": {}}));
    let a = engine.login(host, "AWS", &Secret::new("token-a")).await.unwrap();
    let b = engine.login(host, "AWS", &Secret::new("token-b")).await.unwrap();
    engine.logout(&[a]).await.unwrap();
    engine.logout(&[b]).await.unwrap();
    assert_eq!(read_json(&config_file), json!({"auths": {}}));
}

/// An existing world-readable config.json is made owner-only once it holds a credential; a config.json that is a
/// dangling symlink into a directory that does not exist is refused, naming both, and nothing is created.
#[tokio::test]
async fn a_readable_store_becomes_owner_only_and_a_dangling_link_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = crate::support::scratch_dir("engine-store-modes");
    let config_dir = scratch.path().join("docker");
    let config_file = config_dir.join("config.json");
    write_json(&config_file, &json!({"auths": {}}));
    std::fs::set_permissions(&config_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let env = BTreeMap::from([("DOCKER_CONFIG".to_string(), config_dir.display().to_string())]);
    login_without_engine(EngineKind::Docker, &env, "127.0.0.1:5000", "pw").await;
    assert_eq!(mode(&config_file), 0o600);

    let linked_dir = scratch.path().join("linked");
    std::fs::create_dir_all(&linked_dir).unwrap();
    let missing = scratch.path().join("nowhere/deeper/config.json");
    std::os::unix::fs::symlink(&missing, linked_dir.join("config.json")).unwrap();
    let env = BTreeMap::from([("DOCKER_CONFIG".to_string(), linked_dir.display().to_string())]);
    let error = engineless(&env).login("127.0.0.1:5000", USER, &Secret::new("pw")).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("is a symlink to") && message.contains("nowhere/deeper"), "{message}");
    assert!(!scratch.path().join("nowhere").exists(), "no directory chain was made for the link");
}

/// `save` (the export of `push --image … --by-digest` or `--transfer native`) has the engine write into a
/// directory made for it alone (0700, created exclusively in TMPDIR), so the archive is private whatever mode the
/// engine gives it; the directory goes with the saved image.
#[tokio::test]
async fn an_engine_export_goes_to_a_private_directory_removed_afterwards() {
    let scratch = crate::support::scratch_dir("engine-save-private");
    let tmp = scratch.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let log = scratch.path().join("podman.log");
    let podman = scratch.path().join("podman");
    // `podman save --format docker-archive -o PATH REF`: notes the mode of PATH's directory, writes PATH 0644.
    crate::support::write_executable(
        &podman,
        "#!/bin/sh\nout=\"$5\"\nstat -c '%a' \"$(dirname \"$out\")\" > \"$FAKE_LOG\"\nprintf archive > \"$out\"\nchmod 644 \"$out\"\n",
    );
    let env = BTreeMap::from([
        ("TMPDIR".to_string(), tmp.display().to_string()),
        ("FAKE_LOG".to_string(), log.display().to_string()),
        ("PATH".to_string(), std::env::var("PATH").unwrap_or_default()),
    ]);
    let engine = Engine::new(EngineKind::Podman, podman, env);
    let saved = engine.save("app:1").await.expect("save");
    assert_eq!(std::fs::read_to_string(&log).unwrap().trim(), "700", "the engine wrote into a 0700 directory");
    let dir = saved.path().parent().unwrap().to_path_buf();
    assert_eq!(dir.parent(), Some(tmp.as_path()), "the private directory is in TMPDIR");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(std::fs::read_to_string(saved.path()).unwrap(), "archive");
    drop(saved);
    assert!(!dir.exists(), "the directory and the archive are gone with the saved image");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}
