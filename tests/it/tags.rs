//! `ecr-ship tags` through the real binary: CI fixtures to expected tags, every output format parsed back, bad
//! input, and the plain-git fallback in a real repository.

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::Ship;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ci")
}

struct Fixture {
    name: String,
    env: BTreeMap<String, String>,
    args: Vec<String>,
    tags: Vec<String>,
    context: Option<serde_json::Value>,
}

fn load_fixture(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).expect("read fixture");
    let directory = fixtures_dir().display().to_string();
    let mut env = ecr_ship::ci::parse_env_dump(&text).expect("parse env dump");
    for value in env.values_mut() {
        *value = value.replace("@fixtures", &directory);
    }
    let header =
        |key: &str| text.lines().find_map(|line| line.strip_prefix(&format!("#! {key}: "))).map(str::to_string);
    Fixture {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        env,
        args: header("args").map(|a| a.split_whitespace().map(String::from).collect()).unwrap_or_default(),
        tags: header("tags").expect("every fixture states its tags").split_whitespace().map(String::from).collect(),
        context: header("context").map(|c| serde_json::from_str(&c).expect("context is JSON")),
    }
}

fn all_fixtures() -> Vec<Fixture> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "env"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load_fixture(p)).collect()
}

/// A working directory outside any git repository, so only the fixture's variables speak.
fn no_git_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn ci_fixtures_give_the_expected_tags() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 20, "fixtures went missing: {}", fixtures.len());
    let cwd = no_git_dir();
    for fixture in fixtures {
        let run = Ship::new(&["tags", "--json"]).args_from(&fixture.args).envs(&fixture.env).cwd(cwd.path()).run();
        assert_eq!(run.code, 0, "{}: {}", fixture.name, run.stderr);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
        let tags: Vec<String> = serde_json::from_value(json["tags"].clone()).unwrap();
        for tag in &tags {
            assert!(ecr_ship::names::is_valid_tag(tag), "{}: invalid tag {tag}", fixture.name);
        }
        if fixture.tags.contains(&"LONG".to_string()) {
            assert_eq!(tags[0], fixture.tags[0], "{}", fixture.name);
            assert_eq!(tags[1].len(), 128, "{}: {tags:?}", fixture.name);
            assert!(tags[1].starts_with("feature-very-long-branch-name-"), "{}: {tags:?}", fixture.name);
        } else {
            assert_eq!(tags, fixture.tags, "{}", fixture.name);
        }
        if let Some(expected) = &fixture.context {
            for (key, value) in expected.as_object().unwrap() {
                assert_eq!(&json["context"][key], value, "{}: context.{key}", fixture.name);
            }
        }
    }
}

/// Parses `$GITHUB_OUTPUT` the way the runner does: `name=value` lines and `name<<DELIM` heredocs.
fn parse_github_output(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let heredoc = line.find("<<");
        match (line.find('='), heredoc) {
            (Some(eq), h) if h.is_none_or(|h| eq < h) => {
                outputs.insert(line[..eq].to_string(), line[eq + 1..].to_string());
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                let mut value = Vec::new();
                for inner in lines.by_ref() {
                    if inner == delimiter {
                        break;
                    }
                    value.push(inner);
                }
                outputs.insert(name.to_string(), value.join("\n"));
            }
            _ => panic!("invalid GITHUB_OUTPUT line {line:?}"),
        }
    }
    outputs
}

#[test]
fn every_output_format_is_written_and_parses_back() {
    let fixture = load_fixture(&fixtures_dir().join("github-push-main.env"));
    let dir = no_git_dir();
    let github_output = dir.path().join("github_output");
    let summary = dir.path().join("summary.md");
    std::fs::write(&github_output, "earlier=step\n").unwrap();
    let registry = "012345678901.dkr.ecr.eu-west-1.amazonaws.com";
    let run = Ship::new(&[
        "tags",
        "--repository",
        "team/app",
        "--registry",
        registry,
        "--latest",
        "--image-definitions",
        "web",
        "--image-detail",
        "--properties-file",
        "image.properties",
        "--dotenv-file",
        "build.env",
        "--output-json",
        "outputs.json",
    ])
    .envs(&fixture.env)
    .env("GITHUB_OUTPUT", github_output.display().to_string())
    .env("GITHUB_STEP_SUMMARY", summary.display().to_string())
    .cwd(dir.path())
    .run()
    .success();
    let uri = format!("{registry}/team/app:sha-3f78685");
    let references: Vec<String> =
        ["sha-3f78685", "main", "latest"].iter().map(|t| format!("{registry}/team/app:{t}")).collect();
    assert_eq!(run.stdout, references.iter().map(|r| format!("{r}\n")).collect::<String>());

    let outputs = parse_github_output(&std::fs::read_to_string(&github_output).unwrap());
    assert_eq!(outputs["earlier"], "step", "earlier steps' outputs are kept");
    assert_eq!(outputs["image-uri"], uri);
    assert_eq!(outputs["tags"], "sha-3f78685\nmain\nlatest");
    assert_eq!(outputs["registry"], registry);
    assert_eq!(outputs["repository"], "team/app");
    assert!(!outputs.contains_key("digest"), "a dry plan has no digest");

    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("### ecr-ship: planned tags") && summary.contains(&format!("`{uri}`")), "{summary}");

    let read_json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap()
    };
    assert_eq!(read_json("imagedefinitions.json"), serde_json::json!([{ "name": "web", "imageUri": uri }]));
    let detail = read_json("imageDetail.json");
    assert_eq!(detail["ImageURI"], uri.as_str());
    assert_eq!(detail["RegistryId"], "012345678901");
    assert_eq!(detail["RepositoryName"], "team/app");
    assert_eq!(detail["ImageTags"], serde_json::json!(["sha-3f78685", "main", "latest"]));
    let json = read_json("outputs.json");
    assert_eq!(json["image_uri"], uri.as_str());
    assert_eq!(json["references"], serde_json::json!(references));

    let properties = std::fs::read_to_string(dir.path().join("image.properties")).unwrap();
    assert!(properties.lines().any(|l| l == format!("IMAGE_URI={uri}")), "{properties}");
    assert!(properties.lines().any(|l| l == "IMAGE_TAGS=sha-3f78685,main,latest"), "{properties}");
    let dotenv = std::fs::read_to_string(dir.path().join("build.env")).unwrap();
    for line in dotenv.lines() {
        let (key, value) = line.split_once('=').expect("KEY=value");
        assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !value.contains(' '), "{line}");
    }
    assert!(dotenv.contains(&format!("IMAGE_URI={uri}\n")));
}

#[test]
fn export_lines_eval_in_a_real_shell() {
    let fixture = load_fixture(&fixtures_dir().join("codebuild-webhook-push.env"));
    let dir = no_git_dir();
    let run = Ship::new(&["tags", "--repository", "team/app", "--account-id", "012345678901", "--export"])
        .envs(&fixture.env)
        .cwd(dir.path())
        .run()
        .success();
    let shell = Command::new("bash")
        .arg("-c")
        .arg(format!("{}\nprintf '%s|%s' \"$IMAGE_URI\" \"$IMAGE_TAGS\"", run.stdout))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&shell.stdout),
        "012345678901.dkr.ecr.eu-west-1.amazonaws.com/team/app:sha-3f78685|sha-3f78685,release-2026.11"
    );
}

/// Arguments, extra environment, and the text stderr must contain.
type BadInputCase<'a> = (Vec<&'a str>, Vec<(&'a str, String)>, &'a str);

#[test]
fn bad_input_fails_with_exit_2_and_names_the_value() {
    let dir = no_git_dir();
    std::fs::write(dir.path().join("not-yaml.yml"), "repository: [unclosed\n").unwrap();
    std::fs::write(dir.path().join("wrong-type.yml"), "repository: team/app\ntags:\n  latest: maybe\n").unwrap();
    std::fs::write(dir.path().join("unknown-key.yml"), "repository: team/app\nrepo: x\n").unwrap();
    std::fs::write(dir.path().join("event.txt"), "this is not json").unwrap();
    let sha = "3f786850e387550fdab836ed7e6dc881de23001b";
    let long = "a".repeat(257);
    let cases: Vec<BadInputCase> = vec![
        (vec!["--repository", "Team/App"], vec![], "'Team/App'"),
        (vec!["--repository", "team//app"], vec![], "'team//app'"),
        (vec!["--repository=-team"], vec![], "'-team'"),
        (vec!["--repository", &long], vec![], "257 characters"),
        (vec!["--tag", "{branch}-{commit}"], vec![], "unknown placeholder '{commit}'"),
        (vec!["--sha", "abc123"], vec![], "invalid commit sha 'abc123'"),
        (vec!["--sha", sha, "--pr", "twelve"], vec![], "'twelve'"),
        (vec!["--sha", sha, "--config", "not-yaml.yml"], vec![], "not-yaml.yml"),
        (vec!["--sha", sha, "--config", "wrong-type.yml"], vec![], "latest: maybe"),
        (vec!["--sha", sha, "--config", "unknown-key.yml"], vec![], "unknown field `repo`"),
        (vec!["--sha", sha, "--config", "missing.yml"], vec![], "missing.yml"),
        (vec!["--sha", sha, "--sha-length", "2"], vec![], "invalid sha length 2"),
        (
            vec!["--sha", sha, "--registry", "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example"],
            vec![],
            "is not an Amazon ECR registry host",
        ),
        (
            vec!["--sha", sha, "--registry", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "--region", "eu-west-1"],
            vec![],
            "--region is 'eu-west-1'",
        ),
        (vec!["--sha", sha, "--latest=perhaps"], vec![], "perhaps"),
        (
            vec![],
            vec![
                ("GITHUB_ACTIONS", "true".into()),
                ("GITHUB_EVENT_NAME", "pull_request".into()),
                ("GITHUB_SHA", sha.into()),
                ("GITHUB_EVENT_PATH", "no-such-event.json".into()),
            ],
            "no-such-event.json",
        ),
        (
            vec![],
            vec![
                ("GITHUB_ACTIONS", "true".into()),
                ("GITHUB_EVENT_NAME", "pull_request".into()),
                ("GITHUB_SHA", sha.into()),
                ("GITHUB_EVENT_PATH", "event.txt".into()),
            ],
            "is not JSON",
        ),
        (
            vec![],
            vec![("GITHUB_ACTIONS", "true".into()), ("GITHUB_EVENT_NAME", "pull_request".into())],
            "GITHUB_EVENT_PATH",
        ),
        (
            vec![],
            vec![("CODEBUILD_BUILD_ID", "b:1".into()), ("CODEBUILD_RESOLVED_SOURCE_VERSION", "HEAD".into())],
            "'HEAD'",
        ),
    ];
    for (args, env, needle) in cases {
        let mut ship = Ship::new(&["tags"]).args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        for (key, value) in &env {
            ship = ship.env(key, value.clone());
        }
        let run = ship.cwd(dir.path()).run();
        assert_eq!(run.code, 2, "{args:?} {env:?}\nstderr: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: stderr lacks {needle:?}:\n{}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: nothing on stdout after bad input");
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn plain_git_fallback_in_a_real_repository() {
    let dir = no_git_dir();
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "feature/git-only"]);
    std::fs::write(repo.join("file"), "x").unwrap();
    git(repo, &["add", "file"]);
    git(repo, &["commit", "-q", "-m", "one"]);
    let sha = git(repo, &["rev-parse", "HEAD"]);
    let short = &sha[..7];

    let on_branch = Ship::new(&["tags"]).cwd(repo).run().success();
    assert_eq!(on_branch.stdout, format!("sha-{short}\nfeature-git-only\n"));
    assert!(on_branch.stderr.contains("git build: branch feature/git-only"), "{}", on_branch.stderr);

    git(repo, &["tag", "v9.8.7"]);
    git(repo, &["checkout", "-q", "--detach"]);
    let on_tag = Ship::new(&["tags", "--semver"]).cwd(repo).run().success();
    assert_eq!(on_tag.stdout, format!("v9.8.7\n9.8.7\n9.8\n9\nsha-{short}\n"));

    git(repo, &["tag", "-d", "v9.8.7"]);
    let detached = Ship::new(&["tags"]).cwd(repo).run().success();
    assert_eq!(detached.stdout, format!("sha-{short}\n"), "a detached HEAD gets no guessed branch");

    let overridden = Ship::new(&["tags", "--branch", "refs/heads/hotfix/1"]).cwd(repo).run().success();
    assert_eq!(overridden.stdout, format!("sha-{short}\nhotfix-1\n"));
    assert!(overridden.stderr.contains("git build (branch given): branch hotfix/1"), "{}", overridden.stderr);
}

#[test]
fn the_context_line_names_what_was_given_outside_ci_and_git() {
    let dir = no_git_dir();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let run = Ship::new(&["tags", "--branch", "main", "--sha", sha]).cwd(dir.path()).run().success();
    assert_eq!(run.stdout, "sha-0123456\nmain\n");
    assert!(run.stderr.contains("git build (branch and commit given): branch main"), "{}", run.stderr);
    assert!(!run.stderr.contains("no CI"), "{}", run.stderr);

    let github: BTreeMap<String, String> =
        [("GITHUB_ACTIONS", "true"), ("GITHUB_SHA", sha), ("GITHUB_REF", "refs/heads/main")]
            .into_iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
    let run = Ship::new(&["tags", "--git-tag", "v1.2.3"]).envs(&github).cwd(dir.path()).run().success();
    assert!(run.stderr.contains("GitHub Actions build (git tag given)"), "{}", run.stderr);
}

#[test]
fn no_repository_and_no_commit_is_a_clear_error() {
    let dir = no_git_dir();
    let run = Ship::new(&["tags"]).cwd(dir.path()).run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("pass --sha"), "{}", run.stderr);
}

/// Regression: `--semver` and `--latest` were dropped as soon as any `--tag` was given (the README's own
/// `.ecr-ship.yml` example, `templates` with `latest: true`, gave no `latest`).
#[test]
fn semver_and_latest_add_their_tags_to_explicit_templates() {
    let dir = no_git_dir();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let on_main = Ship::new(&["tags", "--tag", "build-{sha:7}", "--latest", "--branch", "main", "--sha", sha])
        .cwd(dir.path())
        .run()
        .success();
    assert_eq!(on_main.stdout, "build-0123456\nlatest\n");
    let on_feature = Ship::new(&["tags", "--tag", "build-{sha:7}", "--latest", "--branch", "feature", "--sha", sha])
        .cwd(dir.path())
        .run()
        .success();
    assert_eq!(on_feature.stdout, "build-0123456\n", "latest only on the default branch");
    assert!(on_feature.stderr.contains("warning: --latest has no effect"), "named, not dropped: {}", on_feature.stderr);
    assert!(!on_main.stderr.contains("no effect"), "{}", on_main.stderr);
    let release = Ship::new(&["tags", "--tag", "{git_tag}", "--semver", "--git-tag", "v1.4.2", "--sha", sha])
        .cwd(dir.path())
        .run()
        .success();
    assert_eq!(release.stdout, "v1.4.2\n1.4.2\n1.4\n1\n");

    std::fs::write(dir.path().join(".ecr-ship.yml"), "tags:\n  templates: [\"{branch}-{sha:7}\"]\n  latest: true\n")
        .unwrap();
    let from_file = Ship::new(&["tags", "--branch", "main", "--sha", sha]).cwd(dir.path()).run().success();
    assert_eq!(from_file.stdout, "main-0123456\nlatest\n");
}

#[test]
fn tag_lists_are_one_per_line_and_the_old_comma_form_is_refused_by_name() {
    let dir = no_git_dir();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let lines = "type=ref,event=branch\n\ntype=sha,prefix=commit-\n";
    let run = Ship::new(&["tags", "--branch", "dev", "--sha", sha]).env("ECR_SHIP_TAGS", lines).cwd(dir.path()).run();
    assert_eq!(run.success().stdout, "dev\ncommit-0123456\n");

    let old = Ship::new(&["tags", "--tag", "{branch},latest", "--branch", "dev", "--sha", sha]).cwd(dir.path()).run();
    assert_eq!(old.code, 2, "{}", old.stderr);
    assert!(
        old.stderr.contains("'{branch},latest'") && old.stderr.contains("--tag {branch} --tag latest"),
        "{}",
        old.stderr
    );
}

#[test]
fn metadata_action_lines_and_ecr_ship_templates_mix_with_a_flavor() {
    let dir = no_git_dir();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let run = Ship::new(&[
        "tags",
        "--tag",
        "type=semver,pattern={{major}}.{{minor}}",
        "--tag",
        "build-{sha:7}",
        "--tag",
        "type=raw,value=nightly,priority=50",
        "--flavor",
        "suffix=-alpine,onlatest=true",
        "--git-tag",
        "v2.3.4",
        "--sha",
        sha,
    ])
    .cwd(dir.path())
    .run()
    .success();
    // Priority order (semver 900, the template as a raw line 200, then 50); the suffix on every tag and on latest.
    assert_eq!(run.stdout, "2.3-alpine\nbuild-0123456-alpine\nnightly-alpine\nlatest-alpine\n");
}

/// The `labels` output feeds `docker build --label` unchanged (as build-push-action's `labels:` input), and the
/// built image carries metadata-action's OCI labels plus the user's own.
#[cfg(feature = "stand-ins")]
#[test]
fn planned_labels_reach_a_real_docker_build() {
    use crate::support::dockerd::{Dockerd, write_scratch_context};
    let dir = no_git_dir();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let payload = dir.path().join("event.json");
    let repository = serde_json::json!({ "name": "app", "description": "An app, with commas", "html_url": "https://github.com/octo/app", "license": { "spdx_id": "MIT" }, "default_branch": "main" });
    std::fs::write(&payload, serde_json::json!({ "repository": repository }).to_string()).unwrap();
    let github: BTreeMap<String, String> = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_SHA", sha),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_REF_NAME", "main"),
        ("GITHUB_REF_TYPE", "branch"),
        ("GITHUB_EVENT_PATH", payload.to_str().unwrap()),
        ("SOURCE_DATE_EPOCH", "1578616200"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value.to_string()))
    .collect();
    let output = dir.path().join("github_output");
    std::fs::write(&output, "").unwrap();
    let run = Ship::new(&[
        "tags",
        "--tag",
        "type=ref,event=branch",
        "--label",
        "team=platform",
        "--label",
        "built-from={{branch}}",
    ])
    .envs(&github)
    .env("GITHUB_OUTPUT", output.display().to_string())
    .cwd(dir.path())
    .run()
    .success();
    assert_eq!(run.stdout, "main\n");
    let outputs = parse_github_output(&std::fs::read_to_string(&output).unwrap());
    let labels: Vec<&str> = outputs["labels"].lines().collect();
    assert_eq!(
        labels,
        [
            "built-from=main",
            "org.opencontainers.image.created=2020-01-10T00:30:00.000Z",
            "org.opencontainers.image.description=An app, with commas",
            "org.opencontainers.image.licenses=MIT",
            format!("org.opencontainers.image.revision={sha}").as_str(),
            "org.opencontainers.image.source=https://github.com/octo/app",
            "org.opencontainers.image.title=app",
            "org.opencontainers.image.url=https://github.com/octo/app",
            "org.opencontainers.image.version=main",
            "team=platform",
        ]
    );
    assert!(outputs["annotations"].lines().all(|line| line.starts_with("manifest:")), "{}", outputs["annotations"]);

    let dockerd = Dockerd::start();
    let context = write_scratch_context(dir.path(), "labelled", &[("hello.txt", b"hi")]);
    let config = dir.path().join("docker-config");
    let mut args: Vec<String> = vec!["build".into(), "-q".into(), "-t".into(), "labelled:1".into()];
    for label in &labels {
        args.extend(["--label".to_string(), label.to_string()]);
    }
    args.extend(["-f".into(), context.join("Containerfile").display().to_string(), context.display().to_string()]);
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let built = std::process::Command::new("docker")
        .args(&arg_refs)
        .env_clear()
        .envs(dockerd.env(&config))
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let inspect = dockerd.docker(&config, &["inspect", "--format", "{{json .Config.Labels}}", "labelled:1"]);
    let on_image: BTreeMap<String, String> = serde_json::from_slice(&inspect.stdout).expect("labels JSON");
    for label in &labels {
        let (key, value) = label.split_once('=').unwrap();
        assert_eq!(on_image.get(key).map(String::as_str), Some(value), "{key} on the built image: {on_image:?}");
    }
}

/// Monorepos tag releases per app (`app1/v1.2.3`), as metadata-action users keep asking (its #56).
#[test]
fn monorepo_release_tags_give_semver_tags_through_a_prefix_or_a_match() {
    let dir = no_git_dir();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let base = ["tags", "--git-tag", "app1/v1.2.3", "--sha", sha];
    let prefixed =
        Ship::new(&[&base[..], &["--semver", "--semver-prefix", "app1/"]].concat()).cwd(dir.path()).run().success();
    assert_eq!(prefixed.stdout, "app1-v1.2.3\n1.2.3\n1.2\n1\nsha-0123456\n");
    let other_app =
        Ship::new(&["tags", "--git-tag", "app2/v1.2.3", "--sha", sha, "--semver", "--semver-prefix", "app1/"])
            .cwd(dir.path())
            .run()
            .success();
    assert_eq!(other_app.stdout, "app2-v1.2.3\nsha-0123456\n");
    assert!(
        other_app.stderr.contains("--semver has no effect: the git tag 'app2/v1.2.3' is not a version app1/vX.Y.Z"),
        "{}",
        other_app.stderr
    );
    let matched = Ship::new(
        &[
            &base[..],
            &[
                "--tag",
                r"type=semver,pattern={{version}},match=^app1/v(.*)$",
                "--tag",
                r"type=semver,pattern={{major}}.{{minor}},match=^app1/v(.*)$",
            ],
        ]
        .concat(),
    )
    .cwd(dir.path())
    .run()
    .success();
    assert_eq!(matched.stdout, "1.2.3\n1.2\nlatest\n");
}
