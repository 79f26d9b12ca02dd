//! Every example the user is shown runs as shown. The `--help` examples of the binary and of each subcommand are
//! read from the printed help (what a user copies), checked to be printed unwrapped, and pasted into bash: the
//! offline ones (`tags`, `policy`) in a plain git checkout, the others against the ECR stand-in and dockerd, with
//! the files, images and tags they name set up first. Each must exit 0. The README's GitHub workflows pass zizmor.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::CommandFactory;

use crate::support::scratch_dir;

/// One example: the subcommand whose help shows it (empty for the top level) and the command line, with `\`
/// continuations joined as bash joins them.
#[derive(Debug, Clone)]
struct Example {
    command: String,
    line: String,
}

impl Example {
    /// Whether the example never contacts AWS (it then runs in the offline test, with no AWS environment at all).
    fn is_offline(&self) -> bool {
        self.line.starts_with("ecr-ship tags") || self.line.starts_with("ecr-ship policy")
    }
}

/// The lines of the "Examples:" section of a help text, up to the next unindented line (blank lines inside kept).
fn examples_section(help: &str) -> Vec<&str> {
    let mut lines = help.lines().skip_while(|line| line.trim_end() != "Examples:").skip(1);
    let mut section = Vec::new();
    for line in lines.by_ref() {
        if !line.is_empty() && !line.starts_with("  ") {
            break;
        }
        section.push(line);
    }
    section
}

/// The commands in an examples section: comment lines dropped, continuations joined.
fn commands_of(section: &[&str]) -> Vec<String> {
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in section.iter().map(|line| line.trim()) {
        if pending.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    assert!(pending.is_empty(), "an example ends in a continuation: {pending}");
    commands
}

fn printed_help(command: &str) -> String {
    let mut args: Vec<&str> = command.split_whitespace().collect();
    args.push("--help");
    let output = Command::new(env!("CARGO_BIN_EXE_ecr-ship")).args(&args).stdin(Stdio::null()).output().unwrap();
    assert!(output.status.success(), "ecr-ship {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Every example of every help text, as printed. Each printed line must be a line of the source text, so no
/// example (or comment) was wrapped into a line a user would paste broken.
fn all_examples() -> Vec<Example> {
    let top = ecr_ship::cli::Cli::command();
    let mut sources = vec![(String::new(), top.get_after_long_help().map(|h| h.to_string()))];
    for sub in top.get_subcommands() {
        sources.push((sub.get_name().to_string(), sub.get_after_long_help().map(|h| h.to_string())));
    }
    let mut examples = Vec::new();
    for (command, source) in sources {
        let Some(source) = source else { continue };
        let printed = printed_help(&command);
        let section = examples_section(&printed);
        assert!(!section.is_empty(), "`ecr-ship {command} --help` prints no Examples section:\n{printed}");
        let source_lines: Vec<&str> = source.lines().map(str::trim_end).collect();
        for line in &section {
            assert!(
                line.is_empty() || source_lines.contains(&line.trim_end()),
                "`ecr-ship {command} --help` wraps an example line; keep it shorter:\n{line}"
            );
        }
        for line in commands_of(&section) {
            examples.push(Example { command: command.clone(), line });
        }
    }
    examples
}

/// A checkout on branch main with one commit, as a CI job would have.
fn git_checkout(dir: &Path) {
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-q", "--allow-empty", "-m", "first"],
    ] {
        let status = Command::new("git").args(args).current_dir(dir).env("HOME", dir).status().expect("run git");
        assert!(status.success(), "git {args:?}");
    }
}

fn path_with_binary() -> String {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_ecr-ship"));
    format!("{}:{}", binary.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default())
}

/// Runs `example` in bash, as pasted, and asserts it exits 0.
#[track_caller]
fn assert_runs(mut bash: Command, example: &Example, dir: &Path) {
    let output = bash.arg("-c").arg(&example.line).current_dir(dir).stdin(Stdio::null()).output().expect("bash");
    assert!(
        output.status.success(),
        "`ecr-ship {} --help` example failed ({}):\n{}\nstdout:\n{}\nstderr:\n{}",
        example.command,
        output.status,
        example.line,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn help_examples_are_printed_unwrapped_and_the_offline_ones_run() {
    let examples = all_examples();
    assert!(examples.len() >= 20, "{examples:#?}");
    let offline: Vec<&Example> = examples.iter().filter(|e| e.is_offline()).collect();
    assert!(offline.len() >= 6, "{offline:#?}");
    let work = scratch_dir("help-examples-offline");
    git_checkout(work.path());
    for example in offline {
        let mut bash = Command::new("bash");
        bash.env_clear()
            .env("PATH", path_with_binary())
            .env("HOME", work.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // Offline means offline: an AWS call would go to a closed port and fail the example.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        assert_runs(bash, example, work.path());
    }
}

#[cfg(feature = "stand-ins")]
#[test]
fn every_help_example_runs_against_the_stand_ins() {
    use serde_json::json;

    use crate::support::dockerd::Dockerd;
    use crate::support::ecr::Ecr;
    use crate::support::images::{self, Layout, classic_archive, digest_of, random_layer, single_image_layout};
    use crate::support::{Ship, moto};

    let examples = all_examples();
    let ecr = Ecr::start();
    let dockerd = Dockerd::start_with_hosts(Some(&ecr.hosts_file));
    dockerd.build_scratch_image("app:latest", &[("hello.txt", b"hello from the help examples" as &[u8])]);
    let work = scratch_dir("help-examples");
    let dir = work.path();
    git_checkout(dir);

    // The files the examples name.
    let digest = single_image_layout(&dir.join("oci"), "help-oci");
    single_image_layout(&dir.join("build/oci"), "help-build-oci");
    let archived = Layout::new(&dir.join("archived"));
    let mut archived = archived;
    let manifest = archived.image(&[random_layer("help-archive", 30_000, true)], "amd64");
    archived.name(manifest, "latest");
    archived.archive(&dir.join("image.tar"), &[]);
    let layer = images::layer_tar(&[("hello", b"docker save".to_vec())]);
    classic_archive(&dir.join("app.tar"), "app:1", std::slice::from_ref(&layer), &[digest_of(&layer)]);
    let mut platform_digests = Vec::new();
    for architecture in ["amd64", "arm64"] {
        let mut layout = Layout::new(&dir.join(format!("platform-{architecture}")));
        let manifest = layout.image(&[random_layer(&format!("help-{architecture}"), 20_000, true)], architecture);
        platform_digests.push(layout.name(manifest, "latest"));
    }

    // The images and tags they name: the repository, `sha-0123abc`, `build-amd64`/`build-arm64`, and scan results.
    let setup = |args: &[&str]| {
        Ship::new(&["push", "--repository", "team/app", "--sha", images::SHA, "--branch", "main"])
            .args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
            .against(&ecr)
            .cwd(dir)
            .run()
            .success()
    };
    setup(&["--from", "oci:oci", "--tag", "sha-0123abc", "--create-repository"]);
    for architecture in ["amd64", "arm64"] {
        let source = format!("oci:platform-{architecture}");
        setup(&["--from", &source, "--tag", &format!("build-{architecture}")]);
    }
    // moto hands one result to each distinct imageId a DescribeImageScanFindings asks with (by digest, by tag):
    // one per way the examples ask, and a spare.
    let scan = json!({
            "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
            "imageScanFindings": {"findings": [{"name": "CVE-2024-1234", "severity": "LOW", "uri": "https://nvd.nist.gov/vuln/detail/CVE-2024-1234",
                "attributes": [{"key": "package_name", "value": "tar"}, {"key": "package_version", "value": "1.34"}]}]},
    });
    for _ in 0..4 {
        ecr.set_scan_findings("team/app", json!({"imageDigest": digest}), scan.clone());
    }

    let docker_config = dir.join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let mut env = dockerd.env(&docker_config);
    env.extend(ecr.env());
    env.insert("PATH".into(), path_with_binary());
    env.insert("HOME".into(), dir.join("home").display().to_string());
    env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
    env.insert("DIGEST".into(), digest.clone());
    env.insert("DIGEST_AMD64".into(), platform_digests[0].clone());
    env.insert("DIGEST_ARM64".into(), platform_digests[1].clone());
    assert_eq!(env.get("AWS_REGION").map(String::as_str), Some(moto::REGION), "{env:?}");
    for example in examples.iter().filter(|e| !e.is_offline()) {
        let mut bash = ecr.wrap("bash");
        bash.env_clear().envs(&env);
        assert_runs(bash, example, dir);
    }
    // The examples did what they say: the retags and the merge are in the repository.
    let tags = ecr.api_tags("team/app");
    for tag in ["v1.4.0", "stable", "release-2026-11", "latest", "main"] {
        assert!(tags.contains_key(tag), "{tag} missing after the examples: {tags:?}");
    }
    assert_eq!(tags["v1.4.0"], digest, "{tags:?}");
    assert_eq!(tags["release-2026-11"], digest, "{tags:?}");
}

/// The README's GitHub workflows (every ```yaml block with `jobs:`) pass zizmor at every severity, once
/// `OWNER/ecr-ship@v1` is pinned to a commit as the README tells production users to.
#[cfg(feature = "shipping")]
#[test]
fn readme_workflows_pass_zizmor() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let work = scratch_dir("readme-zizmor");
    let workflows = work.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let mut blocks = 0;
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("a closed yaml block");
        let block = &body[..end];
        rest = &body[end..];
        // Indented blocks sit in list items: de-indent by the first line's indentation.
        let indent = block.len() - block.trim_start_matches(' ').len();
        let block: String = block.lines().map(|l| format!("{}\n", l.get(indent..).unwrap_or(""))).collect();
        if !block.lines().any(|l| l.starts_with("jobs:")) {
            continue;
        }
        blocks += 1;
        let mut pinned = block.replace("OWNER/ecr-ship@v1", "OWNER/ecr-ship@0123456789abcdef0123456789abcdef01234567");
        // A recipe that shows only `jobs:` gets a trigger, so zizmor reads it as a workflow.
        if !pinned.lines().any(|l| l.starts_with("on:")) {
            pinned = format!("name: readme-{blocks}\non: push\n{pinned}");
        }
        std::fs::write(workflows.join(format!("readme-{blocks}.yml")), pinned).unwrap();
    }
    assert!(blocks >= 3, "README workflows found: {blocks}");
    let zizmor = crate::support::moto::venv().join("bin/zizmor");
    let output = Command::new(&zizmor)
        .args(["--offline", "--format", "plain", "--no-progress"])
        .arg(&workflows)
        .current_dir(work.path())
        .output()
        .unwrap_or_else(|e| panic!("run {} (scripts/install-test-deps installs it): {e}", zizmor.display()));
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && stdout.contains("No findings to report"), "zizmor:\n{stdout}\n{stderr}");
    assert!(!stderr.contains("failed to validate"), "zizmor skipped a workflow it could not read:\n{stderr}");
}
