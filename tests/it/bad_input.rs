//! Bad input refused offline through the real binary (issue 22): metadata-action's list inputs read as
//! metadata-action reads them (`#` comment lines and blank lines skipped, its CSV quoting), the 1,000-tag cap, flags
//! a by-digest push cannot honour, text that is not UTF-8 in the environment or on the command line, a malformed
//! SOURCE_DATE_EPOCH, a scan ignore that can never match, an image source with an empty reference. Every refusal is
//! exit 2 in one line naming the value and where it came from, before any connection. No service is needed.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::support::{Run, Ship, SilentServer, scratch_dir};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// `ecr-ship tags --json` for a build of `main` at [`SHA`], in a directory that is not a git checkout.
fn tags(dir: &std::path::Path) -> Ship {
    Ship::new(&["tags", "--json", "--branch", "main", "--sha", SHA, "--default-branch", "main"]).cwd(dir)
}

fn json(run: &Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("tags --json prints JSON")
}

#[track_caller]
fn refused(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, 2, "bad input is exit 2: {}", run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "one line: {}", run.stderr);
    for needle in needles {
        assert!(run.stderr.contains(needle), "{:?} lacks {needle:?}", run.stderr);
    }
}

/// A push that would be accepted but for the option under test (an engine image, so nothing is read from disk).
fn push(extra: &[&str]) -> Ship {
    let mut args = vec!["push", "--repository", "team/app", "--image", "app:1", "--region", "us-east-1", "--sha", SHA];
    args.extend_from_slice(extra);
    Ship::new(&args)
}

#[test]
fn comment_and_blank_lines_of_every_list_input_are_skipped() {
    // immich's block, moved over unchanged: a `#` line inside `tags:`, and the same in flavor/labels/annotations.
    let dir = scratch_dir("bad-input-comments");
    let run = tags(dir.path())
        .env(
            "ECR_SHIP_TAGS",
            "# Tag with branch name\ntype=ref,event=branch\n\n  # indented too\ntype=raw,value=foo#bar\n",
        )
        .env("ECR_SHIP_FLAVOR", "# no latest\nlatest=false\n")
        .env("ECR_SHIP_LABELS", "mylabel=foo#bar\n#comment\nanother=bar")
        .env("ECR_SHIP_ANNOTATIONS", "# none but this\nnote=kept")
        .run();
    let out = json(&run);
    assert_eq!(out["tags"], serde_json::json!(["main", "foo-bar"]), "{}", run.stdout);
    assert_eq!(out["labels"]["mylabel"], "foo#bar", "an infix # is no comment");
    assert_eq!(out["labels"]["another"], "bar");
    assert!(out["labels"].as_object().unwrap().keys().all(|k| !k.contains('#')), "{}", run.stdout);
    assert!(out["annotations"].as_array().unwrap().iter().any(|a| a == "manifest:note=kept"), "{}", run.stdout);

    // The config file's lists, item by item, and a --tag flag holding a whole block.
    std::fs::write(
        dir.path().join(".ecr-ship.yml"),
        "tags:\n  templates:\n    - '# Tag with branch name'\n    - type=ref,event=branch\n  flavor: ['# x', 'suffix=-a']\n",
    )
    .unwrap();
    assert_eq!(json(&tags(dir.path()).run())["tags"], serde_json::json!(["main-a"]));
    let run = tags(dir.path()).args_from(&["--tag".into(), "# comment\n{branch}-x".into()]).run();
    assert_eq!(json(&run)["tags"], serde_json::json!(["main-x-a"]));
}

#[test]
fn a_quote_inside_a_csv_field_is_refused_as_csv_parse_refuses_it() {
    let dir = scratch_dir("bad-input-quotes");
    for line in [r#"type=raw,value=x""#, r#"type=raw,value="x"y"#, r#"type=raw,"value=x"y"#, r#"type=raw,"value=x"#] {
        let run = tags(dir.path()).env("ECR_SHIP_TAGS", line).run();
        refused(&run, &[line, "ECR_SHIP_TAGS"]);
        let run = tags(dir.path()).args_from(&["--tag".into(), line.into()]).run();
        refused(&run, &[line, "--tag"]);
    }
    let run = tags(dir.path()).args_from(&["--flavor".into(), r#"prefix=a"b"#.into()]).run();
    refused(&run, &[r#"prefix=a"b"#, "--flavor"]);
    // Quoting a whole field is what quotes are for; a doubled quote inside one is a quote.
    let run = tags(dir.path()).env("ECR_SHIP_TAGS", "type=raw,\"value=a,b\"\ntype=raw,\"value=c\"\"d\"").run();
    assert_eq!(json(&run)["tags"], serde_json::json!(["a-b", "c-d"]), "{}", run.stderr);
}

#[test]
fn more_than_1000_tags_are_refused_before_any_connection() {
    let silent = SilentServer::start();
    let mut args = Vec::new();
    for n in 0..1001 {
        args.extend(["--tag".to_string(), format!("t{n}")]);
    }
    // Repeats count once: 1,000 distinct tags are allowed.
    let mut allowed = args[..2000].to_vec();
    allowed.extend(["--tag".to_string(), "t0".to_string()]);
    let dir = scratch_dir("bad-input-cap");
    let run = tags(dir.path()).args_from(&allowed).run();
    assert_eq!(json(&run)["tags"].as_array().unwrap().len(), 1000);
    let run = tags(dir.path()).args_from(&args).run();
    refused(&run, &["1001 tags", "1,000"]);
    push(&[]).args_from(&args).cwd(dir.path()).refused_offline(&silent, "1001 tags");
    let mut retag = vec!["retag".to_string(), "--repository".into(), "team/app".into(), "--region".into()];
    retag.extend(["us-east-1".to_string(), "sha-0123456".into()]);
    retag.extend((0..1001).map(|n| format!("t{n}")));
    Ship::new(&[]).args_from(&retag).cwd(dir.path()).refused_offline(&silent, "1001 new tags");
}

#[test]
fn a_by_digest_push_refuses_a_latest_flavor() {
    let silent = SilentServer::start();
    let dir = scratch_dir("bad-input-by-digest");
    for flavor in ["latest=true", "latest=true,prefix=v"] {
        push(&["--by-digest", "--flavor", flavor]).cwd(dir.path()).refused_offline(&silent, "--flavor");
        push(&["--by-digest"]).env("ECR_SHIP_FLAVOR", flavor).cwd(dir.path()).refused_offline(&silent, "--flavor");
    }
}

/// A run of `ship` with `key` set to `bytes`, which are not UTF-8.
fn with_bytes(ship: &Ship, key: &str, bytes: &[u8]) -> Run {
    let output = ship.command().env(key, OsStr::from_bytes(bytes)).output().expect("run ecr-ship");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_variable_that_is_not_utf8_is_named() {
    let dir = scratch_dir("bad-input-utf8");
    let plain = Ship::new(&["tags", "--sha", SHA]).cwd(dir.path());
    for key in ["ECR_SHIP_REPOSITORY", "ECR_SHIP_TAGS"] {
        refused(&with_bytes(&plain, key, b"team/\xffapp"), &[key, "UTF-8", r"team/\xffapp"]);
    }
    // The CI variables ecr-ship reads are refused, not dropped (the branch or commit tag would just disappear).
    let github = Ship::new(&["tags"])
        .cwd(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF", "refs/heads/main")
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_REF_TYPE", "branch")
        .env("GITHUB_SHA", SHA)
        .env("GITHUB_EVENT_NAME", "push");
    for key in ["GITHUB_REF_NAME", "GITHUB_REF", "GITHUB_SHA"] {
        // In Actions the error line is followed by its annotation.
        let run = with_bytes(&github, key, b"ma\xc3in");
        assert_eq!(run.code, 2, "{}", run.stderr);
        let first = run.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(key) && first.contains("UTF-8") && first.contains(r"ma\xc3in"), "{}", run.stderr);
        assert!(run.stderr.lines().skip(1).all(|line| line.starts_with("::error")), "{}", run.stderr);
    }
    // A variable ecr-ship does not read may hold any bytes.
    assert_eq!(with_bytes(&github, "SOMETHING_ELSE", b"\xff").code, 0);
    // A command-line argument is named too.
    let output = Ship::new(&["tags", "--sha", SHA])
        .cwd(dir.path())
        .command()
        .arg("--branch")
        .arg(OsStr::from_bytes(b"fe\xffature"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--branch") && stderr.contains(r"fe\xffature"), "{stderr}");
}

#[test]
fn a_malformed_source_date_epoch_is_refused() {
    let dir = scratch_dir("bad-input-epoch");
    for value in ["yesterday", "1.5", "-1", "1e9", "99999999999999999999"] {
        refused(&tags(dir.path()).env("SOURCE_DATE_EPOCH", value).run(), &["SOURCE_DATE_EPOCH", value]);
    }
    let run = tags(dir.path()).env("SOURCE_DATE_EPOCH", "1578616200").args_from(&["--tag".into(), "{date}".into()]);
    assert_eq!(json(&run.run())["tags"], serde_json::json!(["20200110"]));
}

#[test]
fn a_scan_ignore_that_can_never_match_is_refused() {
    let silent = SilentServer::start();
    let dir = scratch_dir("bad-input-ignore");
    let scan = |id: &str| {
        Ship::new(&["scan", "--repository", "team/app", "--region", "us-east-1", "v1", "--scan-ignore", id])
            .cwd(dir.path())
    };
    for id in ["CVE-24-1", "CVE-2024-12", "cve-2024", "GHSA-1234", "GHSA-xxxx-xxxx-xxx", "x", "ALAS"] {
        scan(id).refused_offline(&silent, &format!("'{id}'"));
    }
    std::fs::write(
        dir.path().join(".ecr-ship.yml"),
        "scan:\n  ignore:\n    - {id: CVE-24-1, expires: 2099-01-01, reason: accepted}\n",
    )
    .unwrap();
    Ship::new(&["scan", "--repository", "team/app", "--region", "us-east-1", "v1"])
        .cwd(dir.path())
        .refused_offline(&silent, "'CVE-24-1'");
}

#[test]
fn an_empty_image_reference_is_named_not_the_directory() {
    let silent = SilentServer::start();
    let dir = scratch_dir("bad-input-empty-ref");
    std::fs::create_dir_all(dir.path().join("lay")).unwrap();
    for spec in ["oci:./lay:", "oci:lay:"] {
        let run =
            Ship::new(&["push", "--repository", "team/app", "--region", "us-east-1", "--sha", SHA, "--from", spec])
                .cwd(dir.path())
                .refused_offline(&silent, "empty");
        assert!(run.stderr.contains("--from") && run.stderr.contains(spec), "{}", run.stderr);
        assert!(!run.stderr.contains("no directory"), "{}", run.stderr);
    }
}

#[test]
fn prune_refuses_a_missing_or_malformed_rule_before_any_connection() {
    let silent = SilentServer::start();
    let dir = scratch_dir("bad-input-prune");
    let event = dir.path().join("event.json");
    std::fs::write(&event, "{not json").unwrap();
    let prune = |extra: &[&str]| {
        let mut args = vec!["prune", "--repository", "team/app", "--region", "us-east-1"];
        args.extend_from_slice(extra);
        Ship::new(&args).cwd(dir.path())
    };
    for (extra, needle) in [
        (vec![], "prune needs a rule"),
        (vec!["--pr", "abc"], "invalid --pr 'abc'"),
        (vec!["--pr", "0"], "invalid --pr '0'"),
        (vec!["--keep-last", "5"], "--keep-last 5 needs --match"),
        (vec!["--match", "sha-*"], "--match 'sha-*' needs --keep-last"),
        (vec!["--keep-last", "0", "--match", "sha-*"], "invalid --keep-last '0'"),
        (vec!["--keep-last", "3", "--match", "sha/*"], "invalid --match 'sha/*'"),
        (vec!["--untagged-older-than=-1"], "invalid --untagged-older-than '-1'"),
        (vec!["--untagged-older-than", "soon"], "invalid --untagged-older-than 'soon'"),
        (vec!["--pr", "7", "--max", "0"], "invalid --max '0'"),
        (vec!["--pr", "7", "--registry", "public.ecr.aws/my-alias"], "prune works on private ECR repositories"),
    ] {
        prune(&extra).refused_offline(&silent, needle);
    }
    // On GitHub, a pull request event's payload is read offline: unreadable, it is bad input too (the error line
    // is also an annotation there, so the run has two lines).
    let on_github = |needle: &str| {
        let run = prune(&[])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", event.display().to_string())
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", silent.port))
            .run();
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(needle) && run.stderr.contains("::error title=ecr-ship::"), "{}", run.stderr);
    };
    on_github("is not JSON");
    // A pull request event that did not close the pull request gives no rule.
    std::fs::write(&event, r#"{"action": "synchronize", "pull_request": {"number": 7}}"#).unwrap();
    on_github("prune needs a rule");
}
