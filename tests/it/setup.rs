//! The set-up scripts stop up front, with one line naming what is missing, instead of failing halfway with
//! "command not found": each test runs a script (or the shared `scripts/lib/setup.sh`) with a PATH that holds only
//! the few basic tools it names, so the missing piece is really missing.

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{scratch_dir, write_executable};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory of symlinks to just these tools, found on the real PATH, for use as the whole PATH.
fn path_with_only(root: &Path, tools: &[&str]) -> PathBuf {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = std::env::var_os("PATH").expect("PATH");
    for tool in tools {
        let found = std::env::split_paths(&path)
            .map(|dir| dir.join(tool))
            .find(|candidate| candidate.is_file())
            .unwrap_or_else(|| panic!("{tool} is not on this machine's PATH"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    bin
}

fn run_with_path(command: &mut Command, path: &Path) -> Output {
    command.env_clear().env("PATH", path).env("HOME", "/nonexistent").stdin(Stdio::null());
    command.output().unwrap_or_else(|e| panic!("spawn {command:?}: {e}"))
}

/// Exactly one line on stderr, starting with the script's name, and exit status 1.
fn one_line_failure(output: &Output, script: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{script}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{script}: one line, not: {stderr}");
    assert!(stderr.starts_with(&format!("{script}: ")), "{stderr}");
    stderr
}

const BASICS: &[&str] = &["bash", "dirname", "basename", "id", "cat"];

#[test]
fn scripts_stop_on_a_missing_rust_toolchain_with_one_line() {
    let root = scratch_dir("setup-no-cargo");
    let path = path_with_only(root.path(), BASICS);
    for script in ["install-demo-deps", "install-test-deps", "build-dist"] {
        let run = run_with_path(&mut Command::new(repo().join("scripts").join(script)), &path);
        let line = one_line_failure(&run, script);
        assert!(line.contains("cargo is not on PATH") && line.contains("rustup"), "{line}");
    }
    // With cargo but without rustup, the test installer (which adds the musl targets) names rustup.
    let fake = root.path().join("fake");
    std::fs::create_dir_all(&fake).unwrap();
    for tool in ["cargo", "rustc"] {
        write_executable(&fake.join(tool), "#!/bin/sh\nexit 0\n");
    }
    let both = std::env::join_paths([path, fake]).unwrap();
    let run = run_with_path(&mut Command::new(repo().join("scripts/install-test-deps")), Path::new(&both));
    let line = one_line_failure(&run, "install-test-deps");
    assert!(line.contains("rustup is not on PATH"), "{line}");
}

#[test]
fn the_shared_checks_name_the_missing_piece() {
    let root = scratch_dir("setup-lib");
    let path = path_with_only(root.path(), &[BASICS, &["grep", "mktemp", "sed", "sha256sum", "cut"]].concat());
    let library = repo().join("scripts/lib/setup.sh");
    let cases = [
        ("setup_commands bash no-such-tool-here", "no-such-tool-here is not installed"),
        ("setup_apt docker-registry skopeo", "apt-get is not here"),
        ("setup_apt docker-registry skopeo", "install the equivalents of: docker-registry skopeo"),
        ("setup_venv /nonexistent/venv tests/requirements.txt", "python3 is not installed"),
    ];
    for (call, expected) in cases {
        let script = format!(
            "set -euo pipefail; cd {}; setup_name=check; source {}; {call}",
            repo().display(),
            library.display()
        );
        let run = run_with_path(Command::new("bash").arg("-c").arg(&script), &path);
        let line = one_line_failure(&run, "check");
        assert!(line.contains(expected), "{call}: {line}");
    }
}

#[cfg(feature = "stand-ins")]
#[test]
fn the_stand_ins_name_a_missing_registry_before_starting_anything() {
    let root = scratch_dir("setup-stand-ins");
    let path = path_with_only(root.path(), &[BASICS, &["mkdir"]].concat());
    let dir = root.path().join("state");
    let mut command = Command::new(repo().join("scripts/stand-ins"));
    command.arg("start").arg(&dir);
    let mut run = run_with_path(&mut command, &path);
    // The venv check comes first: with HOME elsewhere, it names the venv; with the real venv, the registry.
    let line = one_line_failure(&run, "stand-ins");
    assert!(line.contains("moto_server is missing: run scripts/install-demo-deps"), "{line}");
    command.env("ECR_SHIP_TEST_VENV", crate::support::moto::venv());
    run = command.output().unwrap();
    let line = one_line_failure(&run, "stand-ins");
    assert!(line.contains("docker-registry is not installed"), "{line}");
    assert!(!dir.join("pids").exists(), "nothing was started");
}
