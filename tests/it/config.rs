//! Option resolution through the real binary: precedence of flags, `ECR_SHIP_*` variables and `.ecr-ship.yml`,
//! and settings from the file that must act exactly as their flags do (the whole-command time limit).

use crate::support::{Ship, SilentServer, scratch_dir};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const REGISTRY: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

fn tags_run(dir: &std::path::Path) -> Ship {
    Ship::new(&["tags", "--registry", REGISTRY, "--sha", SHA, "--branch", "main"]).cwd(dir)
}

#[test]
fn flags_beat_environment_beat_the_file() {
    let dir = scratch_dir("precedence");
    std::fs::write(dir.path().join(".ecr-ship.yml"), "repository: file/repo\ntags:\n  templates: [from-file]\n")
        .expect("write config");
    let run = tags_run(dir.path()).run().success();
    assert_eq!(run.stdout.trim(), format!("{REGISTRY}/file/repo:from-file"));
    let run = tags_run(dir.path()).env("ECR_SHIP_REPOSITORY", "env/repo").env("ECR_SHIP_TAGS", "from-env").run();
    assert_eq!(run.success().stdout.trim(), format!("{REGISTRY}/env/repo:from-env"));
    let run = tags_run(dir.path())
        .env("ECR_SHIP_REPOSITORY", "env/repo")
        .args_from(&["--repository".into(), "flag/repo".into(), "--tag".into(), "from-flag".into()])
        .run();
    assert_eq!(run.success().stdout.trim(), format!("{REGISTRY}/flag/repo:from-flag"));
}

#[test]
fn an_explicit_config_file_must_exist_and_its_errors_are_exit_2() {
    let dir = scratch_dir("config-missing");
    tags_run(dir.path()).args_from(&["--config".into(), "nope.yml".into()]).run().fails_with(2, "nope.yml");
    std::fs::write(dir.path().join(".ecr-ship.yml"), "timeout: soon\n").expect("write config");
    tags_run(dir.path()).run().fails_with(2, "timeout: soon");
}

/// `timeout:` in the file bounds the whole command exactly as `--timeout` does (it used to reach only the SDK's
/// per-call timeouts, so a hung endpoint ran through every retry, and retag and login had no limit at all).
#[test]
fn a_config_file_timeout_bounds_the_whole_command() {
    let silent = SilentServer::start();
    let dir = scratch_dir("config-timeout");
    std::fs::write(dir.path().join(".ecr-ship.yml"), "timeout: 2\nregion: us-east-1\n").expect("write config");
    for (args, what) in [
        (vec!["retag", "--repository", "team/app", "sha-0123abc", "v1"], "retag in 'team/app'"),
        (vec!["retag", "--repository", "team/app", "--timeout", "2", "sha-0123abc", "v1"], "retag in 'team/app'"),
    ] {
        let run = Ship::new(&args)
            .cwd(dir.path())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", silent.port))
            .run();
        run.fails_with(1, &format!("{what} did not finish within --timeout 2s"));
    }
}
