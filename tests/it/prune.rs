//! `ecr-ship prune` through the real binary against the ECR stand-in, on the issue's repository: images tagged
//! (`pr-7`, `sha-aaaaaaa`), (`main`, `sha-bbbbbbb`), (`main2`, `pr-8`), an index under `release` whose children
//! are untagged, and a pull request's index (`pr-10`) that shares a child with `release` and carries a buildx
//! attestation. A dry run deletes nothing; `--apply` removes the pull request's tags and the images only they
//! named, keeps everything `main`, `main2`, `pr-8` and `release` name (the index's children included); a re-run
//! does nothing; `--max` refuses before deleting; a closed pull_request event gives the number; every output
//! format carries what was removed; an immutable repository prunes alike.

use std::path::Path;

use crate::support::ecr::Ecr;
use crate::support::images::{Layout, SHA, random_layer, single_image_layout};
use crate::support::{Run, Ship, scratch_dir};

/// Pushes `source` to `repository` under `tags` (none: by digest).
fn push(ecr: &Ecr, cwd: &Path, repository: &str, source: &str, tags: &[&str]) {
    let mut ship = Ship::new(&["push", "--repository", repository, "--sha", SHA, "--branch", "main", "--from", source])
        .arg("--create-repository");
    if tags.is_empty() {
        ship = ship.arg("--by-digest");
    }
    for tag in tags {
        ship = ship.arg("--tag").arg(*tag);
    }
    ship.against(ecr).cwd(cwd).run().success();
}

fn prune(ecr: &Ecr, cwd: &Path, repository: &str, args: &[&str]) -> Ship {
    Ship::new(&["prune", "--repository", repository])
        .args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        .against(ecr)
        .cwd(cwd)
}

/// The digests of the issue's repository, by the names the tests use.
struct Repository {
    pr7: String,
    main: String,
    main2: String,
    release: String,
    release_children: Vec<String>,
    pr10: String,
    pr10_own: Vec<String>,
}

/// Sets up the issue's repository (and the `pr-10` index) in `repository`.
fn issue_repository(ecr: &Ecr, work: &Path, repository: &str) -> Repository {
    let digest_of = |name: &str, seed: &str| single_image_layout(&work.join(name), seed);
    let (pr7, main, main2) = (digest_of("pr7", "pr7"), digest_of("main", "main"), digest_of("main2", "main2"));
    push(ecr, work, repository, "oci:pr7", &["pr-7", "sha-aaaaaaa"]);
    push(ecr, work, repository, "oci:main", &["main", "sha-bbbbbbb"]);
    push(ecr, work, repository, "oci:main2", &["main2", "pr-8"]);

    let mut layout = Layout::new(&work.join("indexes"));
    let amd = layout.image(&[random_layer("release-amd", 20_000, true)], "amd64");
    let arm = layout.image(&[random_layer("release-arm", 20_000, true)], "arm64");
    let own = layout.image(&[random_layer("pr10-arm", 20_000, true)], "arm64");
    let attestation = layout.attestation(&own);
    let digest = |descriptor: &serde_json::Value| descriptor["digest"].as_str().unwrap().to_string();
    let release_children = vec![digest(&amd), digest(&arm)];
    let pr10_own = vec![digest(&own), digest(&attestation)];
    let release_index = layout.index(&[amd.clone(), arm]);
    let pr10_index = layout.index(&[amd, own, attestation]);
    let release = layout.name(release_index, "release");
    let pr10 = layout.name(pr10_index, "pr10");
    push(ecr, work, repository, "oci:indexes:release", &["release"]);
    push(ecr, work, repository, "oci:indexes:pr10", &["pr-10", "sha-ccccccc"]);
    Repository { pr7, main, main2, release, release_children, pr10, pr10_own }
}

fn output_of(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("--json prints JSON ({e}): {}", run.stdout))
}

#[test]
fn a_closed_pull_request_is_pruned_and_everything_else_survives() {
    let ecr = Ecr::start();
    let work = scratch_dir("prune-pr");
    let dir = work.path();
    let images = issue_repository(&ecr, dir, "team/app");
    let before = ecr.api_tags("team/app");

    // Dry by default: the plan, and nothing deleted.
    let dry = prune(&ecr, dir, "team/app", &["--pr", "7"]).run().success();
    let pr7_line = dry.stdout.lines().find(|l| l.contains("pr-7")).unwrap_or_else(|| panic!("{}", dry.stdout));
    assert!(pr7_line.starts_with("delete") && pr7_line.contains("pr-7 and its commit tags"), "{}", dry.stdout);
    assert!(dry.stdout.lines().any(|l| l.starts_with("keep") && l.contains("main,sha-bbbbbbb")), "{}", dry.stdout);
    assert!(dry.stderr.contains("dry run: --apply would delete 1 image "), "{}", dry.stderr);
    assert_eq!(ecr.api_tags("team/app"), before, "a dry run deletes nothing");
    assert!(ecr.pull_manifest("team/app", &images.pr7).is_some());

    // --apply, with every output format.
    let github_output = dir.join("github_output");
    let summary = dir.join("summary.md");
    std::fs::write(&github_output, "").unwrap();
    let applied = prune(&ecr, dir, "team/app", &["--pr", "7", "--apply", "--json"])
        .args_from(
            &["--output-json", "out.json", "--properties-file", "ship.properties", "--dotenv-file", "ship.env"]
                .map(String::from),
        )
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", github_output.display().to_string())
        .env("GITHUB_STEP_SUMMARY", summary.display().to_string())
        .run()
        .success();
    let result = output_of(&applied);
    assert_eq!(result["applied"], true);
    assert_eq!(result["pruned_digests"], serde_json::json!([images.pr7]), "{result}");
    assert_eq!(result["pruned_tags"], serde_json::json!(["pr-7", "sha-aaaaaaa"]), "{result}");
    let freed = result["bytes_freed"].as_u64().unwrap();
    assert!(freed > 100_000, "the image's own layers are freed: {result}");
    let tags = ecr.api_tags("team/app");
    assert!(!tags.contains_key("pr-7") && !tags.contains_key("sha-aaaaaaa"), "{tags:?}");
    assert_eq!(ecr.pull_manifest("team/app", &images.pr7), None, "the image with only PR tags is gone");
    for (tag, digest) in [("main", &images.main), ("main2", &images.main2), ("pr-8", &images.main2)] {
        assert_eq!(ecr.pull_digest("team/app", tag).as_deref(), Some(digest.as_str()), "{tag} survives");
    }
    assert_eq!(ecr.pull_digest("team/app", "release").as_deref(), Some(images.release.as_str()));
    for child in &images.release_children {
        assert!(ecr.pull_manifest("team/app", child).is_some(), "the release index's child {child} survives");
    }
    let outputs = std::fs::read_to_string(&github_output).unwrap();
    assert!(outputs.contains("pruned-images=1\n") && outputs.contains(&format!("pruned-digests={}\n", images.pr7)));
    assert!(outputs.contains(&format!("bytes-freed={freed}\n")) && outputs.contains("prune-applied=true\n"));
    let properties = std::fs::read_to_string(dir.join("ship.properties")).unwrap();
    assert!(properties.contains("PRUNED_IMAGES=1\n") && properties.contains("PRUNED_TAGS=pr-7,sha-aaaaaaa\n"));
    let dotenv = std::fs::read_to_string(dir.join("ship.env")).unwrap();
    assert!(dotenv.contains(&format!("PRUNED_BYTES={freed}\n")), "{dotenv}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out.json")).unwrap()).unwrap();
    assert_eq!(file, result, "--output-json holds the printed result");
    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert!(markdown.contains("### ecr-ship: pruned `team/app`") && markdown.contains("| delete |"), "{markdown}");
    let storage = markdown.split("### ecr-ship: storage of team/app").nth(1).unwrap_or_else(|| panic!("{markdown}"));
    assert!(storage.contains("| 8 |"), "after the prune, the repository holds 8 manifests: {storage}");

    // A re-run finds nothing to do.
    let again = prune(&ecr, dir, "team/app", &["--pr", "7", "--apply", "--export"]).run().success();
    assert!(again.stderr.contains("nothing to prune"), "{}", again.stderr);
    assert!(again.stdout.contains("export PRUNED_IMAGES='0'\n"), "{}", again.stdout);
    assert_eq!(ecr.api_tags("team/app"), tags);

    // pr-8 shares its image with main2: only the tag goes.
    prune(&ecr, dir, "team/app", &["--pr", "8", "--apply"]).run().success();
    let tags = ecr.api_tags("team/app");
    assert!(!tags.contains_key("pr-8") && tags.get("main2") == Some(&images.main2), "{tags:?}");

    // pr-10's index goes with its own child and the attestation; the child it shares with release stays.
    let run = prune(&ecr, dir, "team/app", &["--pr", "10", "--apply", "--json"]).run().success();
    let result = output_of(&run);
    let mut expected = vec![images.pr10.clone()];
    expected.extend(images.pr10_own.iter().cloned());
    expected.sort();
    let mut pruned: Vec<String> = serde_json::from_value(result["pruned_digests"].clone()).unwrap();
    pruned.sort();
    assert_eq!(pruned, expected, "{result}");
    for gone in &expected {
        assert_eq!(ecr.pull_manifest("team/app", gone), None, "{gone}");
    }
    for child in &images.release_children {
        assert!(ecr.pull_manifest("team/app", child).is_some(), "the shared child {child} survives");
    }
    assert_eq!(ecr.pull_digest("team/app", "release").as_deref(), Some(images.release.as_str()));
}

#[test]
fn a_closed_pull_request_event_gives_the_number_and_max_refuses_before_deleting() {
    let ecr = Ecr::start();
    let work = scratch_dir("prune-event");
    let dir = work.path();
    let images = issue_repository(&ecr, dir, "team/app");
    let event = dir.join("event.json");
    std::fs::write(&event, r#"{"action": "closed", "number": 8, "pull_request": {"number": 8, "merged": true}}"#)
        .unwrap();
    let run = prune(&ecr, dir, "team/app", &["--apply"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", event.display().to_string())
        .run()
        .success();
    assert!(run.stderr.contains("pruning pull request 8"), "{}", run.stderr);
    let tags = ecr.api_tags("team/app");
    assert!(!tags.contains_key("pr-8") && tags.contains_key("pr-7") && tags.contains_key("main2"), "{tags:?}");

    // Two untagged images nothing points at; the release index's untagged children are not theirs to take.
    single_image_layout(&dir.join("loose1"), "loose1");
    single_image_layout(&dir.join("loose2"), "loose2");
    push(&ecr, dir, "team/app", "oci:loose1", &[]);
    push(&ecr, dir, "team/app", "oci:loose2", &[]);
    let before = ecr.api_tags("team/app");
    let refused = prune(&ecr, dir, "team/app", &["--untagged-older-than", "0", "--max", "1", "--apply"]).run();
    let refused = refused.fails_with(1, "more than --max 1; nothing was deleted");
    assert!(refused.stdout.lines().filter(|l| l.starts_with("delete")).count() == 2, "{}", refused.stdout);
    assert_eq!(ecr.api_tags("team/app"), before);
    let dry = prune(&ecr, dir, "team/app", &["--untagged-older-than", "0", "--max", "1"]).run().success();
    assert!(dry.stderr.contains("--apply would refuse it"), "{}", dry.stderr);
    let done = prune(&ecr, dir, "team/app", &["--untagged-older-than", "0", "--max", "2", "--apply", "--json"])
        .run()
        .success();
    assert_eq!(output_of(&done)["pruned_images"], 2, "{}", done.stdout);
    for child in &images.release_children {
        assert!(ecr.pull_manifest("team/app", child).is_some(), "a kept index's child is never untagged garbage");
    }
    assert_eq!(ecr.api_tags("team/app"), before, "no tagged image was touched");
}

#[test]
fn an_immutable_repository_prunes_by_digest_and_a_missing_one_is_a_clear_failure() {
    let ecr = Ecr::start();
    let work = scratch_dir("prune-immutable");
    let dir = work.path();
    ecr.moto.python("client('ecr').create_repository(repositoryName='team/locked', imageTagMutability='IMMUTABLE')");
    let images = issue_repository(&ecr, dir, "team/locked");
    prune(&ecr, dir, "team/locked", &["--pr", "7", "--apply"]).run().success();
    prune(&ecr, dir, "team/locked", &["--pr", "8", "--apply"]).run().success();
    let tags = ecr.api_tags("team/locked");
    assert!(!tags.contains_key("pr-7") && !tags.contains_key("pr-8"), "{tags:?}");
    assert_eq!(tags.get("main2"), Some(&images.main2));
    assert_eq!(ecr.pull_manifest("team/locked", &images.pr7), None);

    let missing = prune(&ecr, dir, "team/none", &["--pr", "7"]).run();
    missing.fails_with(1, "repository 'team/none' does not exist");
}

/// The ECR calls the stand-in received since `before` (its `api_call_<Operation>` counters), as IAM actions.
fn calls_since(ecr: &Ecr, before: &serde_json::Value) -> Vec<String> {
    let now = ecr.stats();
    let mut actions: Vec<String> = now
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(key, count)| {
            let operation = key.strip_prefix("api_call_")?;
            (count.as_u64() > before[key].as_u64().or(Some(0))).then(|| format!("ecr:{operation}"))
        })
        .collect();
    actions.sort();
    actions
}

/// Whether a statement of `policy` allows `action` on `resource` (the resource given, or `*`).
fn allows(policy: &serde_json::Value, action: &str, resource: &str) -> bool {
    policy["Statement"].as_array().unwrap().iter().any(|statement| {
        let actions = statement["Action"].as_array().cloned().unwrap_or_else(|| vec![statement["Action"].clone()]);
        statement["Effect"] == "Allow"
            && actions.iter().any(|a| a == action)
            && (statement["Resource"] == "*" || statement["Resource"] == resource)
    })
}

#[test]
fn policy_prune_admits_every_call_a_prune_makes_and_nothing_wider() {
    let ecr = Ecr::start();
    let work = scratch_dir("prune-policy");
    let dir = work.path();
    issue_repository(&ecr, dir, "team/app");
    let before = ecr.stats();
    prune(&ecr, dir, "team/app", &["--pr", "7", "--untagged-older-than", "0", "--apply"]).run().success();
    let calls = calls_since(&ecr, &before);
    assert!(calls.contains(&"ecr:BatchDeleteImage".to_string()), "the stand-in counts the calls: {calls:?}");

    let policy = |extra: &[&str]| {
        let mut args = vec!["policy", "--repository", "team/app", "--account-id", "123456789012", "--region"];
        args.push("us-east-1");
        args.extend_from_slice(extra);
        let run = Ship::new(&args).cwd(dir).run().success();
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()["push_policy"].clone()
    };
    let arn = "arn:aws:ecr:us-east-1:123456789012:repository/team/app";
    let with_prune = policy(&["--prune"]);
    for action in &calls {
        assert!(allows(&with_prune, action, arn), "policy --prune does not admit {action}: {with_prune}");
    }
    let without = policy(&[]);
    assert!(!allows(&without, "ecr:BatchDeleteImage", arn), "only --prune grants deleting: {without}");
    let statement = with_prune["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "EcrPrune").unwrap();
    assert_eq!(statement["Resource"], arn, "on the repository alone");
    assert_eq!(
        statement["Action"],
        serde_json::json!(["ecr:ListImages", "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:BatchDeleteImage"])
    );
}

/// The README's "Pruning" commands, run as written (through bash, one line at a time) against the stand-in: each
/// exits 0, and the applied one removes the pull request's image.
#[test]
fn the_readme_prune_commands_run_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("\n## Pruning: pull-request and superseded images\n").nth(1).expect("the section");
    let block = section.split("```sh\n").nth(1).and_then(|s| s.split("```").next()).expect("its ```sh block");
    let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 3, "{block}");

    let ecr = Ecr::start();
    let work = scratch_dir("prune-readme");
    let dir = work.path();
    let pr42 = single_image_layout(&dir.join("pr42"), "pr42");
    push(&ecr, dir, "team/app", "oci:pr42", &["pr-42", "sha-4242424"]);
    single_image_layout(&dir.join("main"), "readme-main");
    push(&ecr, dir, "team/app", "oci:main", &["main", "sha-0123abc"]);
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_ecr-ship")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", binary_dir.display(), std::env::var("PATH").unwrap_or_default());
    for line in lines {
        let output = ecr
            .wrap("bash")
            .args(["-euo", "pipefail", "-c", line])
            .env_clear()
            .envs(ecr.env())
            .env("PATH", &path)
            .env("HOME", dir)
            .current_dir(dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{line}\n{stderr}");
    }
    assert_eq!(ecr.pull_manifest("team/app", &pr42), None, "the applied line removed pull request 42's image");
    assert!(ecr.api_tags("team/app").contains_key("main"));
}

/// More than 100 images in one wave go in calls of at most 100 ids (the stand-in refuses a bigger call, as ECR
/// does), and all of them are gone after the run.
#[test]
fn more_than_100_deletions_go_in_calls_of_at_most_100() {
    let ecr = Ecr::start();
    ecr.configure(serde_json::json!({"put_image_rate": 1000, "put_image_burst": 1000}));
    let work = scratch_dir("prune-many");
    let dir = work.path();
    single_image_layout(&dir.join("base"), "many");
    push(&ecr, dir, "team/app", "oci:base", &["main"]);
    // 120 untagged variants of main's manifest (an annotation each), put by PutImage: their blobs are stored.
    ecr.moto.python(
        "import hashlib\necr = client('ecr')\nimage = ecr.batch_get_image(repositoryName='team/app', imageIds=[{'imageTag': 'main'}],\n    \
         acceptedMediaTypes=['application/vnd.oci.image.manifest.v1+json'])['images'][0]\n\
         manifest = json.loads(image['imageManifest'])\nfor n in range(120):\n    \
         manifest['annotations'] = {'variant': str(n)}\n    text = json.dumps(manifest)\n    \
         ecr.put_image(repositoryName='team/app', imageManifest=text, imageDigest='sha256:' + \
         hashlib.sha256(text.encode()).hexdigest(),\n        \
         imageManifestMediaType='application/vnd.oci.image.manifest.v1+json')",
    );
    let before = ecr.stats();
    let run = prune(&ecr, dir, "team/app", &["--untagged-older-than", "0", "--max", "500", "--apply", "--json"])
        .run()
        .success();
    assert_eq!(output_of(&run)["pruned_images"], 120, "{}", run.stderr);
    let calls = ecr.stats()["api_call_BatchDeleteImage"].as_u64().unwrap_or(0)
        - before["api_call_BatchDeleteImage"].as_u64().unwrap_or(0);
    assert_eq!(calls, 2, "120 ids in two calls");
    assert_eq!(ecr.stat("api_InvalidParameterException"), 0);
    let again = prune(&ecr, dir, "team/app", &["--untagged-older-than", "0", "--json"]).run().success();
    let images = output_of(&again)["images"].as_array().unwrap().len();
    assert_eq!(images, 1, "only main is left: {}", again.stdout);
}
