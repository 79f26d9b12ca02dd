//! The storage summary of an ECR Public repository through the real binary, on the ECR Public stand-in: after a push
//! with `--storage-summary true` (or the config file's `storage-summary:`), the job summary shows the repository's
//! stored size, a layer shared by an image and an index's children counted once, against the 50 GB free tier; a
//! push on auto does not measure; and under enforced IAM the printed public policy admits the walk, while a role
//! without ecr-public:DescribeImages gets one warning naming it and the push still succeeds.

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::path::Path;

use serde_json::Value;

use crate::support::ecr::{Ecr, PUBLIC_ALIAS, PUBLIC_HOST};
use crate::support::images::{Layer, Layout, SHA, random_layer};
use crate::support::{Run, Ship, scratch_dir};

fn registry() -> String {
    format!("{PUBLIC_HOST}/{PUBLIC_ALIAS}")
}

/// The ECR stand-in, a scratch directory holding [`shared_layouts`], and where the job summary goes.
struct Scene {
    ecr: Ecr,
    work: tempfile::TempDir,
    /// The bytes of every blob the layouts hold, each once, and how many distinct blobs.
    total: u64,
    blobs: usize,
    summary: std::path::PathBuf,
}

impl Scene {
    fn start(name: &str) -> Scene {
        let (ecr, work) = (Ecr::start(), scratch_dir(name));
        let (total, blobs) = shared_layouts(work.path());
        let summary = work.path().join("summary.md");
        Scene { ecr, work, total, blobs, summary }
    }

    /// A push to the public `app` in GitHub Actions, as the user of `keys` when given (else the stand-in's default
    /// credentials); returns the run and the job summary it wrote.
    fn push(&self, keys: Option<&Value>, args: &[&str]) -> (Run, String) {
        std::fs::write(&self.summary, "").unwrap();
        let mut ship = Ship::new(&["push", "--registry", &registry(), "--repository", "app", "--sha", SHA])
            .args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", self.summary.display().to_string())
            .against(&self.ecr)
            .cwd(self.work.path());
        if let Some(keys) = keys {
            ship = ship
                .env("AWS_ACCESS_KEY_ID", keys[0].as_str().unwrap())
                .env("AWS_SECRET_ACCESS_KEY", keys[1].as_str().unwrap());
        }
        let run = ship.run();
        (run, std::fs::read_to_string(&self.summary).unwrap())
    }

    /// What the summary's table row starts with when every blob is counted once: the image, the index and its two
    /// children are four manifests.
    fn measured_row(&self) -> String {
        format!("({} bytes) | 4 | {} | ", self.total, self.blobs)
    }
}

/// The bytes a manifest in `layout` names: its config and its layers.
fn named_bytes(layout: &Layout, descriptor: &Value) -> u64 {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(layout.blob_path(descriptor["digest"].as_str().unwrap())).unwrap())
            .unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    manifest["config"]["size"].as_u64().unwrap() + layers.iter().map(|l| l["size"].as_u64().unwrap()).sum::<u64>()
}

/// Two layouts whose images share one layer: `build/oci` one image, `multi/oci` an index of two platform images.
/// Returns the bytes of every blob, each once, and how many distinct blobs there are.
fn shared_layouts(dir: &Path) -> (u64, usize) {
    let shared = random_layer("shared", 80_000, true);
    let mut single = Layout::new(&dir.join("build/oci"));
    let first = single.image(&[shared.clone(), random_layer("one", 10_000, true)], "amd64");
    single.name(first.clone(), "latest");
    let mut multi = Layout::new(&dir.join("multi/oci"));
    let layer = |name: &str| -> Layer { random_layer(name, 20_000, true) };
    let amd = multi.image(&[shared.clone(), layer("two")], "amd64");
    let arm = multi.image(&[shared.clone(), layer("three")], "arm64");
    let index = multi.index(&[amd.clone(), arm.clone()]);
    multi.name(index, "latest");
    let shared_size = shared.blob.len() as u64;
    let total = named_bytes(&single, &first) + named_bytes(&multi, &amd) + named_bytes(&multi, &arm) - 2 * shared_size;
    // Three configs, the shared layer, and one own layer per image.
    (total, 3 + 1 + 3)
}

#[cfg(feature = "stand-ins")]
#[test]
fn a_public_repository_is_measured_against_the_free_tier_each_layer_once() {
    let scene = Scene::start("storage-public");

    // On auto a push never measures: reading every manifest would count as pulls.
    let (run, text) = scene.push(None, &["--from", "oci:build/oci", "--create-repository"]);
    run.success();
    assert!(!text.contains("storage of"), "a push on auto did not measure: {text}");

    let (run, text) = scene.push(None, &["--from", "oci:multi/oci", "--storage-summary", "true"]);
    let run = run.success();
    assert!(text.contains("### ecr-ship: storage of app"), "{text}");
    // The shared layer counts once.
    assert!(text.contains(&scene.measured_row()), "each blob once ({}):\n{text}\n{}", scene.measured_row(), run.stderr);
    assert!(text.contains(" of the 50 GB free tier (the account's, shared by its public repositories): $0.00 a month at $0.10 per GB-month beyond the tier (the public price of aws.amazon.com/ecr/pricing, 2026-03, ECR Public)"), "{text}");
    assert!(run.stderr.contains("'app' stores "), "the log line: {}", run.stderr);
    assert!(!run.stderr.contains("no storage summary"), "{}", run.stderr);

    // The config file's keys act as the flags: measured, at the file's price beyond the tier.
    std::fs::write(scene.work.path().join("storage.yml"), "storage-summary: true\nprice-per-gb: 1000\n").unwrap();
    let (run, text) = scene.push(None, &["--from", "oci:multi/oci", "--config", "storage.yml"]);
    run.success();
    assert!(text.contains(&scene.measured_row()), "{text}");
    assert!(text.contains(": $0.00 a month at $1000.00 per GB-month beyond the tier (--price-per-gb)"), "{text}");
    // A flag beats the file.
    let (run, text) =
        scene.push(None, &["--from", "oci:multi/oci", "--config", "storage.yml", "--storage-summary", "false"]);
    run.success();
    assert!(!text.contains("storage of"), "{text}");
}

/// Under enforced IAM, a user holding exactly the printed public push policy measures (DescribeImages, then the
/// registry's manifests); one without ecr-public:DescribeImages pushes anyway, with one warning naming the action.
#[cfg(feature = "stand-ins")]
#[test]
fn the_printed_public_policy_admits_the_storage_walk() {
    let scene = Scene::start("storage-public-iam");
    let ecr = &scene.ecr;
    let printed = Ship::new(&["policy", "--registry", &registry(), "--repository", "app", "--account-id"])
        .args_from(&["123456789012".to_string(), "--create-repository".to_string()])
        .run()
        .success();
    let policy: Value = serde_json::from_str::<Value>(&printed.stdout).unwrap()["push_policy"].clone();
    let mut lacking = policy.clone();
    for statement in lacking["Statement"].as_array_mut().unwrap() {
        if let Some(actions) = statement["Action"].as_array_mut() {
            actions.retain(|a| a != "ecr-public:DescribeImages");
        }
    }
    assert_ne!(policy, lacking, "the printed policy grants ecr-public:DescribeImages");
    let keys: Value = serde_json::from_str(
        ecr.moto
            .python(&format!(
                "iam = client('iam')\nout = {{}}\nfor user, policy in [('measurer', {policy:?}), ('lacking', \
                 {lacking:?})]:\n    iam.create_user(UserName=user)\n    iam.put_user_policy(UserName=user, \
                 PolicyName='p', PolicyDocument=policy)\n    key = iam.create_access_key(UserName=user)['AccessKey']\n    \
                 out[user] = [key['AccessKeyId'], key['SecretAccessKey']]\nprint(json.dumps(out))",
                policy = policy.to_string(),
                lacking = lacking.to_string()
            ))
            .trim(),
    )
    .unwrap();
    let as_user = |user: &str, args: &[&str]| {
        let args: Vec<&str> = args.iter().copied().chain(["--storage-summary", "true"]).collect();
        scene.push(Some(&keys[user]), &args)
    };
    ecr.moto.post("/moto-api/reset-auth", "0");
    let first = as_user("measurer", &["--from", "oci:build/oci", "--create-repository"]);
    let measured = as_user("measurer", &["--from", "oci:multi/oci"]);
    let denied = as_user("lacking", &["--from", "oci:multi/oci", "--tag", "other"]);
    ecr.moto.post("/moto-api/reset-auth", "inf");

    assert_eq!(first.0.code, 0, "{}\nstand-in log:\n{}", first.0.stderr, ecr.log());
    let (run, text) = measured;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("no storage summary"), "the printed policy admits the walk: {}", run.stderr);
    assert!(text.contains(&scene.measured_row()), "{text}\n{}", run.stderr);
    assert!(text.contains("of the 50 GB free tier"), "{text}");

    let (run, text) = denied;
    assert_eq!(run.code, 0, "a failed measurement never fails the push: {}", run.stderr);
    assert!(!text.contains("storage of"), "{text}");
    let warning = run.stderr.lines().find(|line| line.contains("no storage summary")).unwrap_or_default();
    assert!(
        warning.contains("measuring the stored size of public repository 'app'")
            && warning.contains("ecr-public:DescribeImages")
            && warning.contains("arn:aws:ecr-public::123456789012:repository/app"),
        "one warning naming the call and the action: {}",
        run.stderr
    );
    assert!(!warning.contains(" { "), "no Debug output: {warning}");
    assert!(ecr.public_pull_digest("app", "other").is_some(), "the push itself went through");
}
