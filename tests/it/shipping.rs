//! The shipped artefacts run the way users run them: the `dist/ecr-ship` launcher (checksum check, architecture
//! mapping, build from source), the static release binaries (`scripts/build-dist`, x86_64 natively and aarch64
//! under qemu), the workflows and `action.yml` linted by zizmor, the composite action run by act in host mode, and
//! the CodeBuild and Jenkins fragments executed with each system's variables.
//!
//! The act, CodeBuild and Jenkins tests run the real push against the local ECR stand-in (`support::ecr`): each
//! runs inside the stand-in's mount namespace, where the real registry host name resolves to it, and pulls every
//! pushed tag back. The act `tags` test still covers the dry plan (`command: tags`) through the action.

// Tests that need services are compiled with `--features shipping`; their helpers are unused without it.
#![cfg_attr(not(feature = "shipping"), allow(dead_code, unused_imports))]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::support::dockerd::Dockerd;
use crate::support::ecr::{self, Ecr};
use crate::support::images::{Layout, random_layer};
use crate::support::oidc::OidcServer;
use crate::support::{ContainerCredentials, scratch_dir, write_executable};

const ACCOUNT: &str = "123456789012";
const REGISTRY: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn debug_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ecr-ship"))
}

/// A tool from the pinned test venv (`scripts/install-test-deps` fills it from tests/requirements.txt).
fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("ECR_SHIP_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/ecr-ship/venv"));
    let tool = venv.join("bin").join(name);
    assert!(tool.exists(), "{} is missing: run scripts/install-test-deps", tool.display());
    tool
}

/// This machine's name in the launcher's terms.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        other => panic!("no ecr-ship binary for {other}"),
    }
}

fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A command with nothing from the host environment but PATH and HOME.
fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env_clear().stdin(Stdio::null());
    for key in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command
}

fn output_of(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("spawn {command:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `root/dist/` with the real launcher and the given files as `ecr-ship-<arch>-linux`, plus their SHA256SUMS.
fn dist_copy(root: &Path, binaries: &[(&str, &Path)]) -> PathBuf {
    let dist = root.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::copy(repo().join("dist/ecr-ship"), dist.join("ecr-ship")).unwrap();
    let mut sums = String::new();
    for (arch, source) in binaries {
        let name = format!("ecr-ship-{arch}-linux");
        std::fs::copy(source, dist.join(&name)).unwrap();
        sums.push_str(&format!("{}  {name}\n", sha256_file(&dist.join(&name))));
    }
    std::fs::write(dist.join("SHA256SUMS"), sums).unwrap();
    dist
}

#[test]
fn launcher_runs_the_bundled_binary_once_its_checksum_matches() {
    let root = scratch_dir("launcher-ok");
    let dist = dist_copy(root.path(), &[(host_arch(), &debug_binary())]);
    let run = output_of(clean_command(dist.join("ecr-ship")).arg("--version"));
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout), format!("ecr-ship {}\n", env!("CARGO_PKG_VERSION")));
    assert_eq!(text(&run.stderr), "", "a verified binary runs silently");

    // Arguments and exit codes pass through unchanged (exit 2: bad input).
    let run = output_of(clean_command(dist.join("ecr-ship")).args(["tags", "--repository", "Not Valid"]));
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
}

#[test]
fn launcher_refuses_a_binary_whose_checksum_does_not_match() {
    let root = scratch_dir("launcher-bad");
    let dist = dist_copy(root.path(), &[(host_arch(), &debug_binary())]);
    let name = format!("ecr-ship-{}-linux", host_arch());
    let mut bytes = std::fs::read(dist.join(&name)).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(dist.join(&name), bytes).unwrap();

    let run = output_of(clean_command(dist.join("ecr-ship")).arg("--version").env("GITHUB_ACTIONS", "true"));
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert_eq!(text(&run.stdout), "", "the binary must not have run");
    assert!(stderr.contains(&format!("refusing to run dist/{name}")) && stderr.contains("SHA256SUMS"), "{stderr}");
    assert!(stderr.contains("::error title=ecr-ship::refusing to run"), "GitHub annotation: {stderr}");

    // A binary with no line in SHA256SUMS is refused too.
    std::fs::write(dist.join("SHA256SUMS"), "").unwrap();
    let run = output_of(clean_command(dist.join("ecr-ship")).arg("--version"));
    assert_eq!(run.status.code(), Some(1));
    assert!(text(&run.stderr).contains(&format!("dist/{name}: it has no line in dist/SHA256SUMS")));
}

#[test]
fn launcher_maps_every_architecture_name_to_its_binary() {
    let root = scratch_dir("launcher-arch");
    let fakes = root.path().join("fakes");
    std::fs::create_dir_all(&fakes).unwrap();
    for arch in ["x86_64", "aarch64"] {
        write_executable(&fakes.join(arch), &format!("#!/bin/sh\necho \"{arch} binary: $*\"\n"));
    }
    let dist = dist_copy(root.path(), &[("x86_64", &fakes.join("x86_64")), ("aarch64", &fakes.join("aarch64"))]);
    // A fake `uname` answers -m as the test says, so the uname path is covered on any host.
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_executable(
        &bin.join("uname"),
        "#!/bin/sh\ncase \"$1\" in -m) echo \"$FAKE_MACHINE\" ;; *) echo Linux ;; esac\n",
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());

    let cases = [
        ("RUNNER_ARCH", "X64", "x86_64"),
        ("RUNNER_ARCH", "ARM64", "aarch64"),
        ("FAKE_MACHINE", "x86_64", "x86_64"),
        ("FAKE_MACHINE", "amd64", "x86_64"),
        ("FAKE_MACHINE", "aarch64", "aarch64"),
        ("FAKE_MACHINE", "arm64", "aarch64"),
    ];
    for (variable, value, want) in cases {
        let run = output_of(
            clean_command(dist.join("ecr-ship")).env("PATH", &path).env(variable, value).args(["push", "--x"]),
        );
        assert!(run.status.success(), "{variable}={value}: {}", text(&run.stderr));
        assert_eq!(text(&run.stdout), format!("{want} binary: push --x\n"), "{variable}={value}");
    }
    for (variable, value) in [("RUNNER_ARCH", "ARM"), ("FAKE_MACHINE", "riscv64")] {
        let run = output_of(clean_command(dist.join("ecr-ship")).env("PATH", &path).env(variable, value));
        assert_eq!(run.status.code(), Some(1), "{variable}={value}");
        assert!(text(&run.stderr).contains(&format!("no ecr-ship binary for architecture '{value}'")));
    }
}

/// A branch checkout has no bundled binary: the launcher builds from source. The checkout here is a stable
/// directory under target/ whose Cargo.toml, Cargo.lock and src/ link to this crate, built with the dev profile
/// (`ECR_SHIP_CARGO_PROFILE=dev`) into its own `CARGO_TARGET_DIR`, so it never rewrites the binary the other tests
/// run; after the first run that build is warm.
#[cfg(feature = "shipping")]
#[test]
fn launcher_builds_from_source_without_a_bundled_binary() {
    let base = repo().join("target/ship-from-source");
    let checkout = base.join("checkout");
    let _ = std::fs::remove_dir_all(&checkout);
    std::fs::create_dir_all(checkout.join("dist")).unwrap();
    for entry in ["Cargo.toml", "Cargo.lock", "src", "tests", "README.md"] {
        if repo().join(entry).exists() {
            std::os::unix::fs::symlink(repo().join(entry), checkout.join(entry)).unwrap();
        }
    }
    std::fs::copy(repo().join("dist/ecr-ship"), checkout.join("dist/ecr-ship")).unwrap();

    let started = Instant::now();
    let run = output_of(
        clean_command(checkout.join("dist/ecr-ship"))
            .arg("--version")
            .env("ECR_SHIP_CARGO_PROFILE", "dev")
            .env("CARGO_TARGET_DIR", base.join("target"))
            .env("CARGO_TERM_COLOR", "never"),
    );
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert_eq!(text(&run.stdout), format!("ecr-ship {}\n", env!("CARGO_PKG_VERSION")), "stdout is ecr-ship's only");
    let name = format!("ecr-ship-{}-linux", host_arch());
    assert!(
        stderr.contains(&format!("dist/{name} is not bundled here (a branch checkout, not a release): building from source with cargo build --profile dev --locked")),
        "{stderr}"
    );
    assert!(base.join("target/debug/ecr-ship").exists());
    eprintln!("build from source (dev profile) took {:?}", started.elapsed());
}

fn newest_source_mtime() -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, newest);
            } else {
                *newest = (*newest).max(path.metadata().unwrap().modified().unwrap());
            }
        }
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    walk(&repo().join("src"), &mut newest);
    for file in ["Cargo.toml", "Cargo.lock", "scripts/build-dist"] {
        newest = newest.max(repo().join(file).metadata().unwrap().modified().unwrap());
    }
    newest
}

/// The largest a release binary may be (issue 24: 12 MB, decimal, as downloads are counted).
#[cfg(feature = "shipping")]
const MAX_RELEASE_BINARY_BYTES: u64 = 12_000_000;

/// The release binaries: built by `scripts/build-dist` only when missing or older than the sources (a fat-LTO
/// build takes minutes; `target/` is reused), then both must be fully static and run, aarch64 under qemu.
#[cfg(feature = "shipping")]
#[test]
fn static_release_binaries_build_and_run_on_both_architectures() {
    let dist = repo().join("dist");
    let binaries = ["x86_64", "aarch64"].map(|arch| dist.join(format!("ecr-ship-{arch}-linux")));
    let newest = newest_source_mtime();
    let fresh = binaries.iter().all(|b| b.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= newest))
        && dist.join("SHA256SUMS").exists();
    if fresh {
        eprintln!("dist/ecr-ship-*-linux are newer than the sources: not rebuilding");
    } else {
        let started = Instant::now();
        let run = output_of(Command::new(repo().join("scripts/build-dist")).current_dir(repo()).stdin(Stdio::null()));
        assert!(run.status.success(), "scripts/build-dist failed:\n{}", text(&run.stderr));
        eprintln!("scripts/build-dist took {:?}", started.elapsed());
    }

    for (binary, machine) in binaries.iter().zip(["x86-64", "aarch64"]) {
        let file = text(&output_of(Command::new("file").arg("-b").arg(binary)).stdout);
        assert!(file.contains("ELF 64-bit") && file.contains(machine), "{}: {file}", binary.display());
        // `file` says "static-pie linked" for musl's default static PIE and "statically linked" otherwise; both
        // mean no interpreter and no shared libraries.
        assert!(
            file.contains("statically linked") || file.contains("static-pie linked"),
            "{}: {file}",
            binary.display()
        );
        assert!(!file.contains("interpreter"), "{}: {file}", binary.display());
        // Every CI job downloads it: the size is a promise (README, BENCHMARKS.md), kept by the release profile.
        let bytes = binary.metadata().unwrap().len();
        assert!(bytes <= MAX_RELEASE_BINARY_BYTES, "{} is {bytes} bytes, over 12 MB", binary.display());
    }
    let version = format!("ecr-ship {}\n", env!("CARGO_PKG_VERSION"));
    let native = output_of(clean_command(&binaries[0]).arg("--version"));
    assert_eq!(text(&native.stdout), version, "{}", text(&native.stderr));
    let emulated = output_of(clean_command("qemu-aarch64-static").arg(&binaries[1]).arg("--version"));
    assert_eq!(text(&emulated.stdout), version, "{}", text(&emulated.stderr));

    // The checksums the launcher checks describe exactly these files, and the launcher accepts them.
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    for binary in &binaries {
        let name = binary.file_name().unwrap().to_string_lossy();
        assert!(sums.contains(&format!("{}  {name}\n", sha256_file(binary))), "SHA256SUMS:\n{sums}");
    }
    let launched = output_of(clean_command(dist.join("ecr-ship")).arg("--version"));
    assert_eq!(text(&launched.stdout), version, "{}", text(&launched.stderr));
}

#[cfg(feature = "shipping")]
#[test]
fn zizmor_finds_nothing_above_low_in_the_workflows_and_the_action() {
    let mut files = vec![repo().join("action.yml")];
    for dir in [".github/workflows", "tests/workflows"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 4, "{files:?}");
    let run = output_of(
        clean_command(venv_tool("zizmor"))
            .args(["--offline", "--min-severity", "medium", "--format", "plain", "--no-progress"])
            .args(&files)
            .current_dir(repo()),
    );
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "zizmor found problems:\n{stdout}\n{stderr}");
    assert!(stdout.contains("No findings to report"), "{stdout}\n{stderr}");
}

/// A throwaway repository holding what `uses: ./` needs, with the debug binary bundled as a release would bundle
/// the static one (so act exercises the checksum path, not a build), committed so act finds a sha and a branch.
fn act_repository(root: &Path) -> (PathBuf, String) {
    let work = root.join("repo");
    std::fs::create_dir_all(work.join("tests")).unwrap();
    std::fs::create_dir_all(work.join("out")).unwrap();
    std::fs::write(work.join("out/.keep"), "").unwrap();
    std::fs::copy(repo().join("action.yml"), work.join("action.yml")).unwrap();
    dist_copy(&work, &[(host_arch(), &debug_binary())]);
    let copy = output_of(Command::new("cp").arg("-r").arg(repo().join("tests/workflows")).arg(work.join("tests")));
    assert!(copy.status.success());
    let git = |args: &[&str]| {
        let run = output_of(
            clean_command("git")
                .args(["-c", "user.name=ecr-ship", "-c", "user.email=ecr-ship@example.invalid"])
                .args(["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"])
                .args(args)
                .current_dir(&work),
        );
        assert!(run.status.success(), "git {args:?}: {}", text(&run.stderr));
        text(&run.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "action under test"]);
    let sha = git(&["rev-parse", "HEAD"]);
    (work, sha)
}

struct ActRun {
    success: bool,
    log: String,
}

/// How one act run is set up: the workflow, the event and its payload, and the job's extra environment.
struct ActJob<'a> {
    workflow: &'a str,
    event: &'a str,
    payload: Option<&'a serde_json::Value>,
    /// Passed with act's `--env-file` (KEY=VALUE lines), as a user would keep them in a file.
    env: &'a [(String, String)],
}

/// act in host mode, offline: no image, no docker socket, no cache server. With `ecr`, act (and so every step it
/// runs) lives in the ECR stand-in's mount namespace, where the real registry host name resolves to it.
fn act(root: &Path, work: &Path, job: &ActJob, ecr: Option<&Ecr>) -> ActRun {
    let mut command = match ecr {
        Some(ecr) => {
            let mut wrapped = ecr.wrap(venv_tool("act"));
            wrapped.env_clear().stdin(Stdio::null());
            for key in ["PATH", "HOME"] {
                if let Some(value) = std::env::var_os(key) {
                    wrapped.env(key, value);
                }
            }
            wrapped
        }
        None => clean_command(venv_tool("act")),
    };
    command
        .current_dir(work)
        .env("HOME", root) // no ~/.actrc of the host's
        .args([job.event, "-W", job.workflow, "-P", "ubuntu-latest=-self-hosted", "--pull=false"])
        .arg("--action-cache-path")
        .arg(root.join("act-cache"))
        // No docker socket, and no cache server: act would bind it on the host's outbound address (not loopback),
        // and without a network it cannot find one and stops with "listen tcp: lookup <nil>".
        .args(["--container-daemon-socket", "-", "--no-cache-server", "--defaultbranch", "main"]);
    // A README workflow runs as written: its `uses: OWNER/ecr-ship@v1` is the action under test.
    let workflow = std::fs::read_to_string(work.join(job.workflow)).unwrap_or_default();
    if workflow.contains("uses: OWNER/ecr-ship@v1") {
        command.arg("--local-repository").arg(format!("OWNER/ecr-ship@v1={}", work.display()));
    }
    if let Some(payload) = job.payload {
        let path = root.join(format!("{}-event.json", job.event));
        std::fs::write(&path, payload.to_string()).unwrap();
        command.arg("-e").arg(path);
    }
    // An explicit env file always: without --env-file act reads `.env` from the work tree if there is one.
    let env_file = root.join(format!("{}.env", job.event));
    let lines: String = job.env.iter().map(|(key, value)| format!("{key}={value}\n")).collect();
    std::fs::write(&env_file, lines).unwrap();
    command.arg("--env-file").arg(env_file);
    let run = output_of(&mut command);
    ActRun { success: run.status.success(), log: format!("{}{}", text(&run.stdout), text(&run.stderr)) }
}

/// The composite action through act (host mode, offline: no image, no download; `actions/checkout` is replaced by
/// act with a copy of the work tree) on a push, a pull request whose head differs from GITHUB_SHA, and a tag.
#[cfg(feature = "shipping")]
#[test]
fn action_runs_under_act_for_push_pull_request_and_tag_events() {
    let root = scratch_dir("act");
    let (work, sha) = act_repository(root.path());
    let (short, long) = (&sha[..7], &sha[..10]); // the workflow sets ECR_SHIP_SHA_LENGTH=10 for the default rules
    let uri = |tag: &str| format!("{REGISTRY}/team/app:{tag}");
    let head = "1111111111111111111111111111111111111111";
    let repository = serde_json::json!({ "default_branch": "main", "full_name": "octo/app" });
    // The metadata-action block's short ids follow the workflow's ECR_SHIP_SHA_LENGTH=10, as its own
    // DOCKER_METADATA_SHORT_SHA_LENGTH would.
    let cases = [
        (
            "push",
            None,
            uri("main"),
            format!("main,sha-{short}"),
            format!("sha-{long},main"),
            format!("main,sha-{long}"),
        ),
        (
            "pull_request",
            Some(pull_request_event(head, &repository)),
            uri("feature-login"),
            "feature-login,sha-1111111".to_string(),
            "sha-1111111111,pr-42".to_string(),
            "pr-42,sha-1111111111".to_string(),
        ),
        (
            "push",
            Some(serde_json::json!({ "ref": "refs/tags/v1.2.3", "repository": repository })),
            uri(&format!("sha-{short}")),
            format!("sha-{short}"),
            format!("v1.2.3,sha-{long}"),
            format!("1.2.3,1.2,sha-{long}"),
        ),
    ];
    for (event, payload, want_uri, want_tags, want_default_tags, want_meta_tags) in cases {
        let started = Instant::now();
        let env = [
            ("EXPECT_IMAGE_URI", want_uri.clone()),
            ("EXPECT_TAGS", want_tags.clone()),
            ("EXPECT_DEFAULT_TAGS", want_default_tags),
            ("EXPECT_META_TAGS", want_meta_tags.clone()),
        ]
        .map(|(k, v)| (k.to_string(), v));
        let job = ActJob { workflow: "tests/workflows/tags.yml", event, payload: payload.as_ref(), env: &env };
        let run = act(root.path(), &work, &job, None);
        eprintln!("act {event} took {:?}", started.elapsed());
        assert!(run.success && run.log.contains("ACTION-TAGS-OK"), "act {event} failed:\n{}", run.log);
        // The same values, read from act's log of the step outputs.
        assert!(run.log.contains(&format!("seen plan image-uri={want_uri} tags={want_tags} ")), "{}", run.log);
        assert!(run.log.contains(&format!("seen defaults image-uri={REGISTRY}/team/app:")), "{}", run.log);
        assert!(run.log.contains(&format!("seen meta tags={want_meta_tags} end")), "{}", run.log);
        assert!(run.log.contains("Job succeeded"), "{}", run.log);
        assert!(!run.log.contains("building from source"), "the bundled binary must be used:\n{}", run.log);
    }
}

/// A one-image OCI layout (amd64, two small layers of random bytes, so every call gives a new digest) named
/// `latest`; returns the manifest digest a pull must get.
fn small_layout(dir: &Path, seed: &str) -> String {
    let mut layout = Layout::new(dir);
    let layers = [random_layer(&format!("{seed}-a"), 20_000, true), random_layer(&format!("{seed}-b"), 10_000, false)];
    let manifest = layout.image(&layers, "amd64");
    layout.name(manifest, "latest")
}

/// The environment of an act run that assumes its role with GitHub OIDC: the stand-in's minus its static keys and
/// region (the action's aws-region input names it), plus the runner's OIDC token request variables.
fn oidc_action_env(ecr: &Ecr, oidc: &OidcServer) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = ecr
        .env()
        .into_iter()
        .filter(|(key, _)| !matches!(key.as_str(), "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_REGION"))
        .collect();
    env.extend(oidc.env().into_iter().filter(|(key, _)| key.starts_with("ACTIONS_ID_TOKEN_REQUEST_")));
    env
}

/// `KEY=VALUE` lines of act's log, for the `seen push …` line the workflow prints.
fn seen_fields<'a>(log: &'a str, prefix: &str) -> BTreeMap<&'a str, &'a str> {
    let line = log.lines().find_map(|l| l.split_once(prefix).map(|(_, rest)| rest)).unwrap_or_else(|| {
        panic!("no '{prefix}' line in act's log:\n{log}");
    });
    line.split_whitespace().filter_map(|field| field.split_once('=')).collect()
}

/// The real push through `uses: ./` under act, credentials from GitHub OIDC alone: act runs inside the ECR
/// stand-in's mount namespace, the job gets the stand-in endpoints, the test CA and the runner's OIDC variables
/// (pointing at a local token endpoint) through `--env-file` and no AWS keys; the action assumes
/// `role/gha-push` with the web identity token, creates the repository and pushes a fresh layout per event. Every
/// output tag then pulls back (skopeo, by the real host name) with the `digest` output.
///
/// act passes ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN from --env/--env-file through to the steps unchanged (it sets
/// ACTIONS_RUNTIME_URL/TOKEN and ACTIONS_CACHE_URL itself, but not these), so nothing else is needed for OIDC.
#[cfg(feature = "shipping")]
#[test]
fn action_pushes_under_act_with_github_oidc_for_push_pull_request_and_tag_events() {
    let root = scratch_dir("act-push");
    let (work, sha) = act_repository(root.path());
    let short = &sha[..7];
    let ecr = Ecr::start();
    let uri = |tag: &str| format!("{}/team/app:{tag}", ecr::HOST);
    let head = "1111111111111111111111111111111111111111";
    let repository = serde_json::json!({ "default_branch": "main", "full_name": "octo/app" });
    let cases = [
        ("push", None, format!("sha-{short},main")),
        ("pull_request", Some(pull_request_event(head, &repository)), "sha-1111111,pr-42".to_string()),
        (
            "push",
            Some(serde_json::json!({ "ref": "refs/tags/v1.2.3", "repository": repository })),
            format!("v1.2.3,sha-{short}"),
        ),
    ];
    for (index, (event, payload, want_tags)) in cases.into_iter().enumerate() {
        let oidc = OidcServer::start("sts.amazonaws.com");
        let layout = root.path().join(format!("layout-{index}"));
        let digest = small_layout(&layout, &format!("act-{index}"));
        let want_uri = uri(want_tags.split(',').next().unwrap());
        let mut env = oidc_action_env(&ecr, &oidc);
        env.extend([
            ("OCI_LAYOUT_SOURCE".to_string(), layout.display().to_string()),
            ("EXPECT_IMAGE_URI".to_string(), want_uri.clone()),
            ("EXPECT_TAGS".to_string(), want_tags.clone()),
            ("EXPECT_DIGEST".to_string(), digest.clone()),
        ]);
        let job = ActJob { workflow: "tests/workflows/push.yml", event, payload: payload.as_ref(), env: &env };
        let started = Instant::now();
        let run = act(root.path(), &work, &job, Some(&ecr));
        eprintln!("act {event} push ({want_tags}) took {:?}", started.elapsed());
        assert!(
            run.success && run.log.contains("ACTION-PUSH-OK") && run.log.contains("Job succeeded"),
            "act {event} ({want_tags}) failed:\n{}\nstand-in log:\n{}",
            run.log,
            ecr.log()
        );
        assert!(!run.log.contains("building from source"), "the bundled binary must be used:\n{}", run.log);
        assert!(
            run.log.contains("ecr-ship: authenticated as arn:aws:sts::123456789012:assumed-role/gha-push/"),
            "{event}: the role is assumed with the web identity:\n{}",
            run.log
        );

        // The token endpoint was asked once, for STS's audience, with the runner's request token.
        assert_eq!(oidc.audiences(), vec!["sts.amazonaws.com".to_string()], "{event}: {}", run.log);

        let seen = seen_fields(&run.log, "seen push ");
        assert_eq!(seen["image-uri"], want_uri);
        assert_eq!(seen["digest"], digest, "{event}: the digest output is the layout's manifest");
        assert_eq!(seen["tags"], want_tags);
        for tag in want_tags.split(',') {
            assert_eq!(ecr.pull_digest("team/app", tag).as_deref(), Some(digest.as_str()), "{event}: pull of {tag}");
        }
    }
}

/// The action pushing to ECR Public under act (`registry: public.ecr.aws/ALIAS`, then `registry-type: public`),
/// credentials from GitHub OIDC alone, as in the private push above. Every tag pulls back by the real host name.
#[cfg(feature = "shipping")]
#[test]
fn action_pushes_to_ecr_public_under_act() {
    let root = scratch_dir("act-public");
    let (work, sha) = act_repository(root.path());
    let ecr = Ecr::start();
    let oidc = OidcServer::start("sts.amazonaws.com");
    let layout = root.path().join("layout");
    let digest = small_layout(&layout, "act-public");
    let registry = format!("{}/{}", ecr::PUBLIC_HOST, ecr::PUBLIC_ALIAS);
    let want_uri = format!("{registry}/app:sha-{}", &sha[..7]);
    let mut env = oidc_action_env(&ecr, &oidc);
    env.extend([
        ("OCI_LAYOUT_SOURCE".to_string(), layout.display().to_string()),
        ("EXPECT_IMAGE_URI".to_string(), want_uri.clone()),
        ("EXPECT_DIGEST".to_string(), digest.clone()),
    ]);
    let job = ActJob { workflow: "tests/workflows/push-public.yml", event: "push", payload: None, env: &env };
    let run = act(root.path(), &work, &job, Some(&ecr));
    assert!(
        run.success && run.log.contains("ACTION-PUBLIC-OK") && run.log.contains("Job succeeded"),
        "act failed:\n{}\nstand-in log:\n{}",
        run.log,
        ecr.log()
    );
    assert!(oidc.audiences().iter().all(|a| a == "sts.amazonaws.com"), "{:?}", oidc.audiences());
    let seen = seen_fields(&run.log, "seen public ");
    assert_eq!(seen["image-uri"], want_uri);
    let tags: Vec<&str> = seen["tags"].split(',').chain(["from-registry-type"]).collect();
    for tag in tags {
        assert_eq!(ecr.public_pull_digest("app", tag).as_deref(), Some(digest.as_str()), "pull of {tag}");
    }
    assert_eq!(ecr.public_catalog("app")["description"], "Built by the action under act");
    assert_eq!(ecr.public_catalog("app")["architectures"], serde_json::json!(["x86-64", "ARM 64"]));
    // The second step's storage-summary and price-per-gb inputs reached ecr-ship (the first step, on auto, measures
    // nothing): one storage line, against the free tier at the input's price.
    let lines: Vec<&str> = run.log.lines().filter(|line| line.contains("'app' stores ")).collect();
    assert_eq!(lines.len(), 1, "{}", run.log);
    assert!(
        lines[0].contains(" of the 50 GB free tier ")
            && lines[0].contains("at $0.25 per GB-month beyond the tier (--price-per-gb)"),
        "{}",
        lines[0]
    );
}

/// A working directory outside any git repository (the scratch dirs are inside this checkout), so only the CI
/// variables speak, as in a CodeBuild or Jenkins workspace with a detached checkout.
fn no_git_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Variables of a CI fixture (tests/fixtures/ci) and the tags it expects with no extra flags.
fn fixture(name: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let path = repo().join("tests/fixtures/ci").join(format!("{name}.env"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("#! args:"), "{name}: the fragments pass no tag flags");
    let tags = text.lines().find_map(|l| l.strip_prefix("#! tags: ")).expect("#! tags").split_whitespace();
    let env = ecr_ship::ci::parse_env_dump(&text).unwrap().into_iter().collect();
    (env, tags.map(String::from).collect())
}

/// A directory with the debug binary on PATH as `ecr-ship`, as the install step leaves it.
fn path_with_binary(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(debug_binary(), bin.join("ecr-ship")).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

fn yaml_strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().expect("a YAML list").iter().map(|v| v.as_str().expect("a string").to_string()).collect()
}

/// What a fragment pushes from: an OCI layout (`ECR_SHIP_FROM=oci:…`, the fragment's ECR_SHIP_IMAGE removed, as a
/// user without a daemon would), or the image `docker build` left in a daemon (`ECR_SHIP_IMAGE`, the default).
enum Source<'a> {
    Layout { dir: PathBuf, digest: String },
    Docker(&'a Dockerd, PathBuf),
}

impl Source<'_> {
    fn layout(root: &Path, name: &str) -> Source<'static> {
        let dir = root.join(name);
        let digest = small_layout(&dir, name);
        Source::Layout { dir, digest }
    }

    fn apply(&self, command: &mut Command) {
        match self {
            Source::Layout { dir, .. } => {
                command.env_remove("ECR_SHIP_IMAGE").env("ECR_SHIP_FROM", format!("oci:{}", dir.display()));
            }
            Source::Docker(dockerd, config) => {
                command.env("DOCKER_HOST", dockerd.host()).env("DOCKER_CONFIG", config);
            }
        }
    }

    /// The digest the push must report, when the test knows it in advance (a layout's manifest).
    fn digest(&self) -> Option<&str> {
        match self {
            Source::Layout { digest, .. } => Some(digest),
            Source::Docker(..) => None,
        }
    }
}

/// A daemon (in the stand-in's mount namespace, so it reaches the registry by its real name) holding `app:latest`,
/// built FROM scratch as the fragments' Build step would (`docker build -t app:latest .`).
fn docker_with_app_image(ecr: &Ecr) -> Dockerd {
    let started = Instant::now();
    let dockerd = Dockerd::start_with_hosts(Some(&ecr.hosts_file));
    dockerd.build_scratch_image("app:latest", &[("hello.txt", b"hello from a CI build" as &[u8])]);
    eprintln!("dockerd start and docker build took {:?}", started.elapsed());
    dockerd
}

/// `bash`/`sh` in the ECR stand-in's mount namespace with nothing of the host's environment but PATH and HOME.
fn wrapped_shell(ecr: &Ecr, shell: &str) -> Command {
    let mut command = ecr.wrap(shell);
    command.env_clear().stdin(Stdio::null());
    for key in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command
}

/// Every tag pulls back (skopeo, by the real registry host name) as `digest`.
fn assert_tags_pull_as(ecr: &Ecr, repository: &str, tags: &[String], digest: &str, case: &str) {
    for tag in tags {
        assert_eq!(ecr.pull_digest(repository, tag).as_deref(), Some(digest), "{case}: pull of {repository}:{tag}");
    }
}

/// The CodeBuild fragment's post_build phase, run as CodeBuild runs it (one bash, the buildspec's variables, the
/// project's environment) against the local ECR: a webhook push through docker, a webhook pull request and a
/// CodePipeline-started build (no branch) from OCI layouts, and a failed build that must push nothing. The
/// exported variables, imagedefinitions.json and imageDetail.json (digest-pinned) are checked, and every tag pulls
/// back with the exported digest.
///
/// Credentials come as in CodeBuild, from the service role through the container credentials endpoint, with no
/// keys in the environment: the fixture's AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (which means 169.254.170.2, not a
/// loopback address) is replaced by AWS_CONTAINER_CREDENTIALS_FULL_URI pointing at a local stand-in.
#[cfg(feature = "shipping")]
#[test]
fn codebuild_fragment_pushes_exports_variables_and_writes_deploy_files() {
    let buildspec = std::fs::read_to_string(repo().join("dist/codebuild/buildspec.yml")).unwrap();
    let spec: serde_json::Value = serde_saphyr::from_str(&buildspec).expect("buildspec.yml is YAML");
    assert_eq!(spec["version"], serde_json::json!(0.2));
    assert_eq!(spec["env"]["shell"], "bash");
    let exported = yaml_strings(&spec["env"]["exported-variables"]);
    assert_eq!(exported, ["IMAGE_URI", "IMAGE_URI_DIGEST", "IMAGE_DIGEST", "IMAGE_TAGS"]);
    assert_eq!(yaml_strings(&spec["artifacts"]["files"]), ["imagedefinitions.json", "imageDetail.json"]);
    let install = yaml_strings(&spec["phases"]["install"]["commands"]).join("\n");
    assert!(install.contains("sha256sum --check") && install.contains("SHA256SUMS"), "install checks the download");
    let post_build = yaml_strings(&spec["phases"]["post_build"]["commands"]);
    let variables: BTreeMap<String, String> = spec["env"]["variables"]
        .as_object()
        .expect("env.variables")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), String::from)))
        .collect();
    assert_eq!(variables["ECR_SHIP_COMMAND"], "push", "the fragment pushes by default");
    assert_eq!(variables["ECR_SHIP_IMAGE"], "app:latest");
    let repository = variables["IMAGE_REPO_NAME"].as_str();

    // Buildspec 0.2 runs a phase's commands in one shell and fails the phase on the first command that exits
    // non-zero; the exported variables are read at the end.
    let mut script = String::new();
    for command in &post_build {
        script.push_str(&format!("{command}\nstatus=$?; [ \"$status\" = 0 ] || exit \"$status\"\n"));
    }
    for name in &exported {
        script.push_str(&format!("echo \"{name}=${{{name}-<unset>}}\"\n"));
    }

    let ecr = Ecr::start();
    let service_role = ContainerCredentials::start();
    let mut ecr_env = ecr.env();
    ecr_env.retain(|(key, _)| !matches!(key.as_str(), "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY"));
    ecr_env.push(("AWS_CONTAINER_CREDENTIALS_FULL_URI".into(), service_role.full_uri()));
    // The fragment does not create repositories: the project's repository exists, as in a real account.
    ecr.moto.python(&format!("client('ecr').create_repository(repositoryName={repository:?})"));
    let scratch = scratch_dir("codebuild");
    let dockerd = docker_with_app_image(&ecr);
    let docker_config = scratch.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();

    let cases = [
        ("codebuild-webhook-push", "0", Source::layout(scratch.path(), "failed")),
        ("codebuild-webhook-push", "1", Source::Docker(&dockerd, docker_config.clone())),
        ("codebuild-webhook-pr", "1", Source::layout(scratch.path(), "pr")),
        ("codebuild-pipeline-detached", "1", Source::layout(scratch.path(), "pipeline")),
    ];
    for (case, succeeding, source) in cases {
        let dir = no_git_dir();
        let (mut fixture_env, tags) = fixture(case);
        fixture_env.remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
        let mut command = wrapped_shell(&ecr, "bash");
        command
            .arg("-c")
            .arg(&script)
            .current_dir(dir.path())
            .envs(&fixture_env)
            .envs(&variables)
            .envs(ecr_env.iter().cloned())
            .env("PATH", path_with_binary(dir.path()))
            .env("CODEBUILD_SRC_DIR", dir.path())
            .env("CODEBUILD_BUILD_SUCCEEDING", succeeding);
        source.apply(&mut command);
        let started = Instant::now();
        let run = output_of(&mut command);
        let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
        eprintln!("codebuild {case} (succeeding={succeeding}) took {:?}", started.elapsed());
        assert!(run.status.success(), "{case}: {stderr}\n{}", ecr.log());
        if matches!(source, Source::Docker(..)) {
            assert!(stderr.contains("from docker to push it natively (docker's default"), "{case}: {stderr}");
        }
        let printed: BTreeMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
        if succeeding == "0" {
            assert!(printed.values().all(|v| *v == "<unset>"), "{case}: a failing build exports nothing: {stdout}");
            assert!(
                !dir.path().join("imagedefinitions.json").exists() && !dir.path().join("imageDetail.json").exists()
            );
            assert!(ecr.api_tags(repository).is_empty(), "{case}: a failing build pushes nothing");
            continue;
        }
        let uri = format!("{}/{repository}:{}", ecr::HOST, tags[0]);
        assert_eq!(printed["IMAGE_URI"], uri, "{case}: {stdout}\n{stderr}");
        assert_eq!(printed["IMAGE_TAGS"], tags.join(","), "{case}");
        let digest = printed["IMAGE_DIGEST"];
        assert!(digest.starts_with("sha256:") && digest.len() == 71, "{case}: {stdout}");
        if let Some(want) = source.digest() {
            assert_eq!(digest, want, "{case}: the layout's manifest was pushed");
        }
        let pinned = format!("{}/{repository}@{digest}", ecr::HOST);
        assert_eq!(printed["IMAGE_URI_DIGEST"], pinned, "{case}");
        let definitions: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("imagedefinitions.json")).unwrap()).unwrap();
        assert_eq!(definitions, serde_json::json!([{ "name": variables["CONTAINER_NAME"], "imageUri": uri }]));
        let detail: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("imageDetail.json")).unwrap()).unwrap();
        assert_eq!(detail["ImageURI"], pinned, "{case}: imageDetail.json pins the digest");
        assert_eq!(detail["RepositoryName"], repository);
        assert_eq!(detail["RegistryId"], ACCOUNT);
        assert_tags_pull_as(&ecr, repository, &tags, digest, case);
        if let Source::Docker(_, config) = &source {
            let config = std::fs::read_to_string(config.join("config.json")).unwrap_or_default();
            assert!(!config.contains(ecr::HOST), "{case}: the docker login was removed after the push: {config}");
        }
    }
    assert!(service_role.requests() >= 3, "each push took the service role's credentials from the endpoint");

    // A failing ecr-ship fails the phase (`eval "$(…)"` alone would swallow the exit code).
    let dir = no_git_dir();
    let (fixture_env, _) = fixture("codebuild-webhook-push");
    let run = output_of(
        clean_command("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(dir.path())
            .envs(&fixture_env)
            .envs(&variables)
            .env("PATH", path_with_binary(dir.path()))
            .env("IMAGE_REPO_NAME", "Not A Repository"),
    );
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
}

/// The script of the Push stage's `sh '…'` step in the Jenkinsfile.
fn jenkins_push_script(jenkinsfile: &str) -> String {
    let start = jenkinsfile.find("sh 'export PATH=").expect("the push sh step") + 4;
    let end = start + jenkinsfile[start..].find("'\n").expect("end of the script");
    jenkinsfile[start..end].to_string()
}

/// The script of the Install stage's `sh '''…'''` step, as the shell gets it (Groovy's `\\` is one backslash).
fn jenkins_install_script(jenkinsfile: &str) -> String {
    let start = jenkinsfile.find("sh '''").expect("the install sh step") + 6;
    let end = start + jenkinsfile[start..].find("'''").expect("end of the install script");
    jenkinsfile[start..end].replace("\\\\", "\\")
}

/// A release as the fragments download it (the debug binary as `ecr-ship-<arch>-linux`, and SHA256SUMS), and a
/// `curl` on PATH that serves `curl … -o FILE URL` from it, so the install steps run as written, offline.
fn fake_release(root: &Path) -> PathBuf {
    let release = root.join("release");
    std::fs::create_dir_all(&release).unwrap();
    let name = format!("ecr-ship-{}-linux", host_arch());
    std::fs::copy(debug_binary(), release.join(&name)).unwrap();
    std::fs::write(release.join("SHA256SUMS"), format!("{}  {name}\n", sha256_file(&release.join(&name)))).unwrap();
    let bin = root.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_executable(
        &bin.join("curl"),
        &format!(
            "#!/bin/sh\nout=\nwhile [ $# -gt 1 ]; do [ \"$1\" = -o ] && out=$2; shift; done\n\
             cp \"{}/${{1##*/}}\" \"$out\"\n",
            release.display()
        ),
    );
    bin
}

/// Every path under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                pending.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The Jenkinsfile's Push step as Jenkins runs it (`sh -xe`, the pipeline's environment, the AWS Credentials
/// binding's keys) against the local ECR, for a multibranch pull request and a freestyle branch build from OCI
/// layouts and a tag build through docker (the Jenkinsfile's Build stage): the step's stdout is the image URI alone
/// and equals the properties file's IMAGE_URI, and every tag pulls back with its IMAGE_DIGEST.
#[cfg(feature = "shipping")]
#[test]
fn jenkins_pipeline_step_pushes_returns_the_uri_and_writes_properties() {
    let jenkinsfile = std::fs::read_to_string(repo().join("dist/jenkins/Jenkinsfile")).unwrap();
    let script = jenkins_push_script(&jenkinsfile);
    assert!(script.contains("--properties-file ecr-ship.properties"), "{script}");
    assert!(jenkinsfile.contains("readProperties file: 'ecr-ship.properties'"));
    assert!(jenkinsfile.contains("env.IMAGE_URI = image.IMAGE_URI ?: ''"), "the URI comes from the properties");
    assert!(!jenkinsfile.contains("returnStdout"), "stdout of a dry run is tags, never taken for a URI");
    let install = jenkins_install_script(&jenkinsfile);
    assert!(install.contains("sha256sum -c") && install.contains("$WORKSPACE@tmp/ecr-ship"), "{install}");
    assert!(jenkinsfile.contains("ECR_SHIP_COMMAND = 'push'"), "the Jenkinsfile pushes by default");
    assert!(jenkinsfile.contains("sh 'docker build -t \"$ECR_SHIP_IMAGE\" .'"));

    let ecr = Ecr::start();
    ecr.moto.python("client('ecr').create_repository(repositoryName='team/app')");
    let scratch = scratch_dir("jenkins");
    let dockerd = docker_with_app_image(&ecr);
    let docker_config = scratch.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();

    let cases = [
        ("jenkins-multibranch-pr-default", Source::layout(scratch.path(), "pr")),
        ("jenkins-tag", Source::Docker(&dockerd, docker_config.clone())),
        ("jenkins-freestyle", Source::layout(scratch.path(), "freestyle")),
    ];
    let fake_curl = fake_release(scratch.path());
    for (case, source) in cases {
        let dir = no_git_dir();
        let (fixture_env, tags) = fixture(case);
        // The install stage as written (its downloads served by the fake curl): one checked binary, outside the
        // workspace, in $WORKSPACE@tmp/ecr-ship, which the push step puts first on PATH.
        let tool_dir = PathBuf::from(format!("{}@tmp", dir.path().display()));
        let _remove_tool_dir = RemoveOnDrop(tool_dir.clone());
        let installed = output_of(
            clean_command("sh")
                .args(["-xe", "-c", &install])
                .current_dir(dir.path())
                .env("PATH", format!("{}:{}", fake_curl.display(), std::env::var("PATH").unwrap()))
                .env("WORKSPACE", dir.path())
                .env("ECR_SHIP_VERSION", "v1.0.0"),
        );
        assert!(installed.status.success(), "{case}: install: {}", text(&installed.stderr));
        assert_eq!(files_under(&tool_dir), ["ecr-ship", "ecr-ship/SHA256SUMS", "ecr-ship/ecr-ship"], "one copy");
        assert!(files_under(dir.path()).is_empty(), "{case}: the install wrote into the workspace");
        // Jenkins runs `sh` steps as `sh -xe`: the trace goes to stderr, stdout is the step's value. The
        // pipeline's `environment` block (ECR_SHIP_COMMAND, ECR_SHIP_IMAGE; AWS_REGION is the stand-in's) and the
        // credentials binding (the stand-in's keys) come on top of the build's variables.
        let mut command = wrapped_shell(&ecr, "sh");
        command
            .args(["-xe", "-c", &script])
            .current_dir(dir.path())
            .envs(&fixture_env)
            .env("WORKSPACE", dir.path())
            .env("ECR_SHIP_COMMAND", "push")
            .env("ECR_SHIP_IMAGE", "app:latest")
            .envs(ecr.env());
        source.apply(&mut command);
        let started = Instant::now();
        let run = output_of(&mut command);
        eprintln!("jenkins {case} took {:?}", started.elapsed());
        let stderr = text(&run.stderr);
        assert!(run.status.success(), "{case}: {stderr}\n{}", ecr.log());
        // `def uri = sh(returnStdout: true, …).trim()`: push prints the image URI alone.
        let uri = text(&run.stdout).trim().to_string();
        assert_eq!(uri, format!("{}/team/app:{}", ecr::HOST, tags[0]), "{case}: {stderr}");
        let properties = std::fs::read_to_string(dir.path().join("ecr-ship.properties")).unwrap();
        let values: BTreeMap<&str, &str> = properties.lines().filter_map(|l| l.split_once('=')).collect();
        assert_eq!(values["IMAGE_URI"], uri, "{case}: {properties}");
        assert_eq!(values["IMAGE_TAGS"], tags.join(","), "{case}: {properties}");
        assert_eq!(values["IMAGE_REPOSITORY"], "team/app");
        assert_eq!(values["IMAGE_REGISTRY"], ecr::HOST);
        let digest = values["IMAGE_DIGEST"];
        if let Some(want) = source.digest() {
            assert_eq!(digest, want, "{case}: the layout's manifest was pushed");
        }
        assert_eq!(values["IMAGE_URI_DIGEST"], format!("{}/team/app@{digest}", ecr::HOST), "{case}");
        assert_tags_pull_as(&ecr, "team/app", &tags, digest, case);
        assert_eq!(files_under(dir.path()), ["ecr-ship.properties"], "{case}: only the user's own output");

        // The dry run (ECR_SHIP_COMMAND=tags) cannot name the registry offline here: the properties hold the
        // tags and no IMAGE_URI, and a warning says how to name the registry.
        let mut dry = wrapped_shell(&ecr, "sh");
        dry.args(["-xe", "-c", &script])
            .current_dir(dir.path())
            .envs(&fixture_env)
            .env("WORKSPACE", dir.path())
            .env("ECR_SHIP_COMMAND", "tags")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        let dry = output_of(&mut dry);
        assert!(dry.status.success(), "{case}: dry run: {}", text(&dry.stderr));
        assert!(text(&dry.stderr).contains("cannot name the registry"), "{case}: {}", text(&dry.stderr));
        let properties = std::fs::read_to_string(dir.path().join("ecr-ship.properties")).unwrap();
        assert!(properties.contains(&format!("IMAGE_TAGS={}\n", tags.join(","))), "{case}: {properties}");
        assert!(!properties.contains("IMAGE_URI") && !properties.contains("IMAGE_REFS"), "{case}: {properties}");
    }
}

/// Removes a directory when dropped (the `$WORKSPACE@tmp` beside a temporary workspace).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A pull_request event payload for PR 42 whose head commit is `head` (not the merge commit act puts in GITHUB_SHA).
fn pull_request_event(head: &str, repository: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "number": 42,
        "pull_request": {
            "number": 42,
            "head": { "sha": head, "ref": "feature/login" },
            "base": { "sha": "2222222222222222222222222222222222222222", "ref": "main" }
        },
        "repository": repository,
    })
}

/// The CodeBuild fragment's install phase as CodeBuild runs it (one bash for the phase's commands, which your
/// later commands share), its downloads served by the fake curl, in a private mount namespace whose /usr/local/bin
/// and /tmp are empty tmpfs (so the install touches nothing of this machine): the binary is installed and runs,
/// and `set -o` after the commands is what it was before (no errexit, nounset or pipefail left on). A tampered
/// download fails the phase.
#[cfg(feature = "shipping")]
#[test]
fn codebuild_install_phase_installs_a_checked_binary_and_keeps_the_shell_options() {
    let buildspec = std::fs::read_to_string(repo().join("dist/codebuild/buildspec.yml")).unwrap();
    let spec: serde_json::Value = serde_saphyr::from_str(&buildspec).expect("buildspec.yml is YAML");
    let install = yaml_strings(&spec["phases"]["install"]["commands"]);
    let scratch = scratch_dir("codebuild-install");
    let fake_curl = fake_release(scratch.path());
    let mut script = String::from("before=$(set -o)\n");
    for command in &install {
        script.push_str(&format!("{command}\nstatus=$?; [ \"$status\" = 0 ] || exit \"$status\"\n"));
    }
    script.push_str(
        "after=$(set -o)\n[ \"$before\" = \"$after\" ] || { diff <(echo \"$before\") <(echo \"$after\"); exit 9; }\n\
         set -o | grep -E '^(errexit|nounset|pipefail) '\ncommand -v ecr-ship\necho INSTALL-OK\n",
    );
    let run_install = |release_sums: Option<&str>| {
        if let Some(sums) = release_sums {
            std::fs::write(scratch.path().join("release/SHA256SUMS"), sums).unwrap();
        }
        let isolated = "mount -t tmpfs tmpfs /usr/local/bin && mount -t tmpfs tmpfs /tmp && exec bash -c \"$0\"";
        output_of(
            clean_command("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-c", isolated, &script])
                .current_dir(scratch.path())
                .env("PATH", format!("{}:{}", fake_curl.display(), std::env::var("PATH").unwrap()))
                .env("ECR_SHIP_VERSION", "v1.0.0"),
        )
    };
    let run = run_install(None);
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success() && stdout.contains("INSTALL-OK"), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("ecr-ship {}\n", env!("CARGO_PKG_VERSION"))), "the binary runs: {stdout}");
    assert!(stdout.contains("/usr/local/bin/ecr-ship\n"), "{stdout}");
    for option in ["errexit", "nounset", "pipefail"] {
        assert!(stdout.lines().any(|l| l.starts_with(option) && l.ends_with("off")), "{option} stays off: {stdout}");
    }
    let tampered = run_install(Some(&format!("{}  ecr-ship-{}-linux\n", "0".repeat(64), host_arch())));
    assert!(!tampered.status.success(), "a checksum mismatch fails the phase: {}", text(&tampered.stdout));
    assert!(!text(&tampered.stdout).contains("INSTALL-OK"));
}

/// The README's "Building with docker, pushing with ecr-ship" workflow under act, as written but for `uses:
/// OWNER/ecr-ship@v1`, which becomes `uses: ./` (the action under test): the `tags` step's `image-refs` and
/// `labels` go to `docker build` (a dockerd in the stand-in's mount namespace), and the push step, with GitHub OIDC
/// alone, pushes that image; every planned tag then pulls back by the real host name as one digest.
#[cfg(feature = "shipping")]
#[test]
fn the_readme_docker_build_recipe_runs_under_act() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme.split("#### Building with docker, pushing with ecr-ship").nth(1).expect("the recipe");
    let recipe = section.split("```yaml\n").nth(1).and_then(|s| s.split("```").next()).expect("its workflow");
    assert!(recipe.contains("uses: OWNER/ecr-ship@v1"), "{recipe}");
    let root = scratch_dir("act-readme-build");
    let (work, sha) = act_repository(root.path());
    std::fs::write(work.join("tests/workflows/readme-build.yml"), recipe.replace("OWNER/ecr-ship@v1", "./")).unwrap();
    std::fs::write(work.join("Dockerfile"), "FROM scratch\nCOPY action.yml /\n").unwrap();

    let ecr = Ecr::start();
    let oidc = OidcServer::start("sts.amazonaws.com");
    let dockerd = Dockerd::start_with_hosts(Some(&ecr.hosts_file));
    let docker_config = root.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let mut env = oidc_action_env(&ecr, &oidc);
    env.extend([
        ("DOCKER_HOST".to_string(), dockerd.host()),
        ("DOCKER_CONFIG".to_string(), docker_config.display().to_string()),
        // This docker has no buildx plugin: its classic builder, as `docker build` falls back to.
        ("DOCKER_BUILDKIT".to_string(), "0".to_string()),
    ]);
    let job = ActJob { workflow: "tests/workflows/readme-build.yml", event: "push", payload: None, env: &env };
    let run = act(root.path(), &work, &job, Some(&ecr));
    assert!(run.success && run.log.contains("Job succeeded"), "act failed:\n{}\nstand-in log:\n{}", run.log, ecr.log());
    assert!(
        run.log.contains("from docker to push it natively (docker's default"),
        "the built image was exported by docker and pushed natively:\n{}",
        run.log
    );
    let tags = [format!("sha-{}", &sha[..7]), "main".to_string()];
    let digest = ecr.pull_digest("team/app", &tags[0]).expect("the commit tag pulls");
    assert_tags_pull_as(&ecr, "team/app", &tags, &digest, "readme recipe");
    let inspect = dockerd.docker(
        &docker_config,
        &["image", "inspect", "--format", "{{json .Config.Labels}}", &format!("{}/team/app:main", ecr::HOST)],
    );
    let labels = text(&inspect.stdout);
    assert!(
        labels.contains(&format!("\"org.opencontainers.image.revision\":\"{sha}\"")),
        "the build got the labels: {labels}"
    );
}

/// The README's pruning workflow under act, exactly as written (act maps `OWNER/ecr-ship@v1` to the action under
/// test with `--local-repository`): a `pull_request` event closing pull request 42, credentials from GitHub OIDC alone. Its image (tagged `pr-42`
/// and its commit tag only) is deleted, `main`'s stays, and the step's outputs say so.
#[cfg(feature = "shipping")]
#[test]
fn the_readme_prune_workflow_runs_under_act_on_a_closed_pull_request() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme.split("\n## Pruning: pull-request and superseded images\n").nth(1).expect("the section");
    let recipe = section.split("```yaml\n").nth(1).and_then(|s| s.split("```").next()).expect("its workflow");
    assert!(recipe.contains("uses: OWNER/ecr-ship@v1") && recipe.contains("types: [closed]"), "{recipe}");
    let root = scratch_dir("act-readme-prune");
    let (work, _) = act_repository(root.path());
    std::fs::write(work.join("tests/workflows/readme-prune.yml"), recipe).unwrap();

    let ecr = Ecr::start();
    let pushed = |name: &str, tags: &[&str]| push_tagged(&ecr, root.path(), name, tags);
    let pr = pushed("pr42", &["pr-42", "sha-1111111"]);
    let main = pushed("main", &["main", "sha-2222222"]);

    let oidc = OidcServer::start("sts.amazonaws.com");
    let env = oidc_action_env(&ecr, &oidc);
    let repository = serde_json::json!({ "default_branch": "main", "full_name": "octo/app" });
    let mut payload = pull_request_event("1111111111111111111111111111111111111111", &repository);
    payload["action"] = serde_json::json!("closed");
    let job = ActJob {
        workflow: "tests/workflows/readme-prune.yml",
        event: "pull_request",
        payload: Some(&payload),
        env: &env,
    };
    let run = act(root.path(), &work, &job, Some(&ecr));
    assert!(run.success && run.log.contains("Job succeeded"), "act failed:\n{}\nstand-in log:\n{}", run.log, ecr.log());
    assert!(run.log.contains("pruning pull request 42"), "{}", run.log);
    assert!(run.log.contains("pruned 1 images, "), "the step's outputs reached the next step:\n{}", run.log);
    assert_eq!(ecr.pull_manifest("team/app", &pr), None, "pull request 42's image is gone");
    assert_eq!(ecr.pull_digest("team/app", "main").as_deref(), Some(main.as_str()));
    assert!(!ecr.api_tags("team/app").contains_key("pr-42"));
}

/// Pushes a fresh one-image layout `name` (in `dir`) to `team/app` under `tags`; returns its digest.
#[cfg(feature = "shipping")]
fn push_tagged(ecr: &Ecr, dir: &Path, name: &str, tags: &[&str]) -> String {
    use crate::support::Ship;
    use crate::support::images::{SHA, single_image_layout};
    let digest = single_image_layout(&dir.join(name), name);
    let mut ship = Ship::new(&["push", "--repository", "team/app", "--sha", SHA, "--branch", "main"]).args_from(&[
        "--from".into(),
        format!("oci:{name}"),
        "--create-repository".into(),
    ]);
    for tag in tags {
        ship = ship.arg("--tag").arg(*tag);
    }
    ship.against(ecr).cwd(dir).run().success();
    digest
}
