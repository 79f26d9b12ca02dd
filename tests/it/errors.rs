//! Errors a user can provoke read as sentences: the credential chain finding nothing, a refused connection and a
//! timeout, through the real binary. No Rust `Debug` output (`Foo { source: … }`, `Some(…)`) may reach stderr.

use crate::support::{Run, Ship, SilentServer, free_port, scratch_dir};

/// Marks of Rust `Debug` output that must never reach a user.
const DEBUG_MARKS: [&str; 9] =
    ["{", "}", "Some(", "source:", "DispatchFailure", "ConnectorError", "Error {", "kind:", "CredentialsNotLoaded"];

#[track_caller]
fn assert_sentences(run: &Run) {
    assert_eq!(run.code, 1, "a failure talking to AWS is exit 1\n{}", run.stderr);
    for mark in DEBUG_MARKS {
        assert!(!run.stderr.contains(mark), "stderr shows Debug output {mark:?}:\n{}", run.stderr);
    }
    assert!(run.stderr.starts_with("ecr-ship: error: "), "{}", run.stderr);
}

fn retag(dir: &std::path::Path) -> Ship {
    Ship::new(&["retag", "--repository", "team/app", "--region", "us-east-1", "sha-0123abc", "v1"])
        .cwd(dir)
        .env("HOME", dir.display().to_string())
        .env("AWS_CONFIG_FILE", dir.join("no-config").display().to_string())
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials").display().to_string())
}

#[test]
fn no_credentials_names_each_provider_and_why_it_had_nothing() {
    let dir = scratch_dir("errors-chain");
    let run = retag(dir.path()).run();
    assert_sentences(&run);
    assert!(run.stderr.contains("no AWS credentials found"), "{}", run.stderr);
    for provider in ["Environment", "Profile", "WebIdentityToken", "EcsContainer", "Ec2InstanceMetadata"] {
        let line = run.stderr.lines().find(|l| l.trim_start().starts_with(provider));
        assert!(line.is_some_and(|l| l.contains("skipped")), "one line for {provider}:\n{}", run.stderr);
    }
}

#[test]
fn a_refused_connection_names_the_endpoint_and_the_os_reason() {
    let dir = scratch_dir("errors-refused");
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let run = retag(dir.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", endpoint.clone())
        .env("AWS_MAX_ATTEMPTS", "1")
        .run();
    assert_sentences(&run);
    assert!(run.stderr.contains(&format!("could not connect to {endpoint}")), "{}", run.stderr);
    assert!(run.stderr.contains("Connection refused"), "{}", run.stderr);
    assert!(run.stderr.contains("DescribeRepositories for 'team/app' in us-east-1"), "names the call: {}", run.stderr);
}

#[test]
fn a_silent_endpoint_times_out_in_words() {
    let silent = SilentServer::start();
    let dir = scratch_dir("errors-timeout");
    let endpoint = format!("http://127.0.0.1:{}", silent.port);
    let run = retag(dir.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", endpoint.clone())
        .env("AWS_MAX_ATTEMPTS", "1")
        .args_from(&["--timeout".into(), "4".into()])
        .run();
    assert_sentences(&run);
    assert!(run.stderr.contains(&format!("{endpoint} did not answer in time")), "{}", run.stderr);
    assert!(run.stderr.contains("raise --timeout"), "{}", run.stderr);
}
