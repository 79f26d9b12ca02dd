//! Output files a flag, an input or a config key names (`--output-json`, `--properties-file`, `--dotenv-file`,
//! `--image-definitions[-file]`, `--image-detail`, `--sarif`, `scan: sarif:`, `outputs:`): checked offline while the
//! options are resolved (exit 2 naming the path and the flag or key, before any connection), replaced atomically (a
//! private temporary file beside them, renamed into place), and never written through a symlink unless
//! `--follow-symlinks` says so. Also: error messages cut long values and escape control characters.

use std::net::TcpListener;
use std::path::Path;

use crate::support::{Ship, scratch_dir};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const REGISTRY: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

/// A loopback listener standing in for every AWS endpoint; it accepts nothing, so a test can ask afterwards
/// whether anything tried to connect.
struct Endpoint(TcpListener);

impl Endpoint {
    fn start() -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Endpoint(listener)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.0.local_addr().unwrap().port())
    }

    fn was_contacted(&self) -> bool {
        !matches!(self.0.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

fn tags(dir: &Path, extra: &[&str]) -> Ship {
    let args = ["tags", "--registry", REGISTRY, "--repository", "team/app", "--sha", SHA, "--branch", "main"];
    Ship::new(&args).args_from(&extra.iter().map(|a| a.to_string()).collect::<Vec<_>>()).cwd(dir)
}

/// A command that would contact AWS at `endpoint` once its options are resolved (`--timeout` bounds the old
/// behaviour, which connected and then waited).
fn online(dir: &Path, endpoint: &Endpoint, args: &[&str]) -> Ship {
    let mut argv = args.to_vec();
    argv.extend_from_slice(&["--region", "us-east-1", "--timeout", "5"]);
    Ship::new(&argv)
        .cwd(dir)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", endpoint.url())
}

fn error_line(stderr: &str) -> &str {
    stderr.lines().find(|line| line.starts_with("ecr-ship: error:")).unwrap_or_default()
}

#[test]
fn a_missing_directory_or_a_directory_is_exit_2_before_any_connection() {
    let dir = scratch_dir("outputs-offline");
    std::fs::create_dir(dir.path().join("a-dir")).unwrap();
    let offline: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["--output-json", "no-such-dir/out.json"], "--output-json", "no-such-dir"),
        (vec!["--output-json", "a-dir"], "--output-json", "is a directory"),
        (vec!["--properties-file", "no-such-dir/ship.properties"], "--properties-file", "no-such-dir"),
        (vec!["--dotenv-file", "a-dir"], "--dotenv-file", "is a directory"),
        (
            vec!["--image-definitions", "web", "--image-definitions-file", "nope/defs.json"],
            "--image-definitions-file",
            "nope",
        ),
    ];
    for (extra, flag, needle) in offline {
        let run = tags(dir.path(), &extra).run().fails_with(2, needle);
        let line = error_line(&run.stderr);
        assert!(line.contains(flag) && line.contains(needle), "{extra:?}: one line naming {flag}: {}", run.stderr);
    }
    std::fs::write(dir.path().join(".ecr-ship.yml"), "outputs:\n  output-json: missing/out.json\n").unwrap();
    let run = tags(dir.path(), &[]).run().fails_with(2, "missing");
    assert!(error_line(&run.stderr).contains("outputs.output-json"), "{}", run.stderr);
    std::fs::remove_file(dir.path().join(".ecr-ship.yml")).unwrap();

    // Commands that talk to AWS refuse the path before their first connection (push used to upload first).
    for (args, needle) in [
        (vec!["scan", "--repository", "team/app", "v1", "--sarif", "no-such-dir/x.sarif"], "--sarif"),
        (vec!["scan", "--repository", "team/app", "v1", "--sarif", "a-dir"], "--sarif"),
        (
            vec!["push", "--repository", "team/app", "--image", "app:1", "--sha", SHA, "--output-json", "nope/x"],
            "--output-json",
        ),
        (
            vec![
                "push",
                "--repository",
                "team/app",
                "--image",
                "app:1",
                "--sha",
                SHA,
                "--scan-fail-on",
                "HIGH",
                "--sarif",
                "nope/x",
            ],
            "--sarif",
        ),
        (vec!["retag", "--repository", "team/app", "v1", "v2", "--dotenv-file", "nope/x.env"], "--dotenv-file"),
    ] {
        let endpoint = Endpoint::start();
        let run = online(dir.path(), &endpoint, &args).run().fails_with(2, needle);
        assert!(error_line(&run.stderr).contains(needle), "{args:?}: {}", run.stderr);
        assert!(!endpoint.was_contacted(), "{args:?} connected before refusing its output file: {}", run.stderr);
    }
    std::fs::write(dir.path().join(".ecr-ship.yml"), "scan:\n  sarif: missing/scan.sarif\n").unwrap();
    let endpoint = Endpoint::start();
    let run = online(dir.path(), &endpoint, &["scan", "--repository", "team/app", "v1"]).run().fails_with(2, "missing");
    assert!(error_line(&run.stderr).contains("scan.sarif"), "{}", run.stderr);
    assert!(!endpoint.was_contacted());
}

#[test]
fn a_symlink_is_refused_unless_follow_symlinks_is_given() {
    let dir = scratch_dir("outputs-symlink");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me\n").unwrap();
    std::os::unix::fs::symlink("victim.txt", dir.path().join("out.json")).unwrap();
    std::os::unix::fs::symlink("victim.txt", dir.path().join("imageDetail.json")).unwrap();
    std::os::unix::fs::symlink("gone/nowhere.env", dir.path().join("dangling.env")).unwrap();
    for (extra, needle) in [
        (vec!["--output-json", "out.json"], "--output-json"),
        (vec!["--image-detail"], "imageDetail.json"),
        (vec!["--dotenv-file", "dangling.env"], "--dotenv-file"),
    ] {
        let run = tags(dir.path(), &extra).run().fails_with(2, "symlink");
        assert!(error_line(&run.stderr).contains(needle), "{extra:?}: {}", run.stderr);
        assert!(run.stderr.contains("--follow-symlinks"), "says how to opt in: {}", run.stderr);
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    assert!(!dir.path().join("gone").exists(), "no directory made for a dangling link");

    // Asked for, the write goes to the link's target and the link stays a link.
    tags(dir.path(), &["--output-json", "out.json", "--follow-symlinks"]).run().success();
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&victim).unwrap()).unwrap();
    assert_eq!(written["repository"], "team/app");
    assert!(std::fs::symlink_metadata(dir.path().join("out.json")).unwrap().file_type().is_symlink());
}

#[test]
fn output_files_are_replaced_atomically_with_a_sensible_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("outputs-atomic");
    let out = dir.path().join("out.json");
    std::fs::write(&out, "old\n").unwrap();
    // A second name for the same file: an in-place write would change it too, a replacement does not.
    std::fs::hard_link(&out, dir.path().join("other-name")).unwrap();
    std::fs::write(dir.path().join("private.env"), "old\n").unwrap();
    std::fs::set_permissions(dir.path().join("private.env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let extra = [
        "--output-json",
        "out.json",
        "--properties-file",
        "ship.properties",
        "--dotenv-file",
        "private.env",
        "--image-definitions",
        "web",
        "--image-detail",
    ];
    tags(dir.path(), &extra).run().success();
    assert_eq!(std::fs::read_to_string(dir.path().join("other-name")).unwrap(), "old\n");
    assert!(std::fs::read_to_string(&out).unwrap().contains("\"repository\": \"team/app\""));
    let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
    for name in ["out.json", "ship.properties", "imagedefinitions.json", "imageDetail.json"] {
        assert_eq!(mode(name), 0o644, "{name}");
    }
    assert_eq!(mode("private.env"), 0o600, "an existing file keeps its mode");
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.contains("ecr-ship-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left: {leftovers:?}");
}

#[test]
fn long_values_are_cut_and_control_characters_escaped_in_errors() {
    let dir = scratch_dir("outputs-long-values");
    let long = "a".repeat(100_000);
    std::fs::write(dir.path().join(".ecr-ship.yml"), format!("repository: {long}\n")).unwrap();
    let run = Ship::new(&["tags", "--sha", SHA, "--branch", "main"]).cwd(dir.path()).run();
    assert_eq!(run.code, 2, "{}", &run.stderr[..run.stderr.len().min(500)]);
    assert!(run.stderr.len() < 2_000, "the value is cut: {} bytes of stderr", run.stderr.len());
    assert!(run.stderr.contains("more characters"), "says how much was cut: {}", run.stderr);

    let run = Ship::new(&["tags", "--sha", SHA, "--branch", "main", "--repository", "team/\u{1b}[31mapp\nnext line"])
        .cwd(dir.path())
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "no raw ESC: {:?}", run.stderr);
    assert!(run.stderr.contains(r"\u{1b}[31mapp\nnext line"), "escaped: {}", run.stderr);
    assert_eq!(run.stderr.lines().filter(|l| l.contains("next line")).count(), 1, "{}", run.stderr);
    assert!(!run.stderr.lines().any(|l| l.starts_with("next line")), "{}", run.stderr);
}

/// The `tags` dry run writes deploy files only when it can name the registry: never a registry-less image
/// (`team/app:tag`, a Docker Hub name) in imagedefinitions.json, imageDetail.json, the IMAGE_URI export or the
/// properties file; it says what it skipped and how to name the registry. In CodeBuild the build's ARN names it.
#[test]
fn the_dry_run_writes_deploy_files_only_when_the_registry_is_known() {
    let args = [
        "tags",
        "--repository",
        "team/app",
        "--sha",
        SHA,
        "--branch",
        "main",
        "--export",
        "--image-definitions",
        "web",
        "--image-detail",
        "--properties-file",
        "ship.properties",
    ];
    let dir = scratch_dir("dry-no-registry");
    let run = Ship::new(&args).env("AWS_EC2_METADATA_DISABLED", "true").cwd(dir.path()).run().success();
    assert!(!run.stdout.contains("IMAGE_URI") && !run.stdout.contains("IMAGE_REFS"), "{}", run.stdout);
    assert!(run.stdout.contains("export IMAGE_TAGS='sha-0123456,main'\n"), "{}", run.stdout);
    for skipped in ["skipped imagedefinitions.json and imageDetail.json", "the IMAGE_URI export", "--registry HOST"] {
        assert!(run.stderr.contains(skipped), "{skipped}: {}", run.stderr);
    }
    assert!(!dir.path().join("imagedefinitions.json").exists() && !dir.path().join("imageDetail.json").exists());
    let properties = std::fs::read_to_string(dir.path().join("ship.properties")).unwrap();
    assert!(!properties.contains("IMAGE_URI") && properties.contains("IMAGE_TAGS=sha-0123456,main\n"), "{properties}");

    // CodeBuild: CODEBUILD_BUILD_ARN names the account and region, so the files name the build's registry.
    let dir = scratch_dir("dry-codebuild");
    let arn = "arn:aws:codebuild:eu-west-1:123456789012:build/app-build:0d9c1f62-5f1e-4a0e-9a56-1b2b3c4d5e6f";
    let run = Ship::new(&args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CODEBUILD_BUILD_ID", "app-build:0d9c1f62-5f1e-4a0e-9a56-1b2b3c4d5e6f")
        .env("CODEBUILD_BUILD_ARN", arn)
        .cwd(dir.path())
        .run()
        .success();
    let uri = format!("{REGISTRY}/team/app:sha-0123456");
    assert!(run.stdout.contains(&format!("export IMAGE_URI='{uri}'\n")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("export IMAGE_REFS='{uri},{REGISTRY}/team/app:main'\n")), "{}", run.stdout);
    assert!(!run.stderr.contains("cannot name the registry"), "{}", run.stderr);
    let definitions = std::fs::read_to_string(dir.path().join("imagedefinitions.json")).unwrap();
    assert!(definitions.contains(&format!("\"imageUri\": \"{uri}\"")), "{definitions}");
    assert!(
        std::fs::read_to_string(dir.path().join("imageDetail.json"))
            .unwrap()
            .contains("\"RegistryId\": \"123456789012\"")
    );
}
