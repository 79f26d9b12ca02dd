//! `ecr-ship policy --lifecycle` through the binary: the lifecycle policy follows the tag rules of the flags and of
//! `.ecr-ship.yml`, its file is the printed policy alone, and rules ECR cannot express are exit 2 in one line
//! (offline). Against the ECR stand-in: the README's recipe, run as printed, has PutLifecyclePolicy accept the
//! generated policy (`--create-repository --lifecycle-policy`, and boto3's put_lifecycle_policy as `aws ecr
//! put-lifecycle-policy` would call it), a policy ECR refuses is exit 2 before anything is sent, and after a push the
//! job summary shows the repository's stored size with a layer two images share counted once.

use std::path::Path;

use serde_json::Value;

use crate::support::{Ship, scratch_dir};

fn policy(dir: &Path, args: &[&str]) -> Ship {
    Ship::new(&["policy", "--repository", "team/app", "--region", "us-east-1"])
        .args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        .cwd(dir)
}

/// (tagStatus, the one pattern or "", countType, countNumber) of each rule, in priority order.
fn rules(policy: &Value) -> Vec<(String, String, String, u64)> {
    let rules = policy["rules"].as_array().expect("rules");
    let priorities: Vec<u64> = rules.iter().map(|r| r["rulePriority"].as_u64().expect("priority")).collect();
    assert!(priorities.windows(2).all(|w| w[0] < w[1]), "priorities ascend: {priorities:?}");
    rules
        .iter()
        .map(|rule| {
            let s = &rule["selection"];
            (
                s["tagStatus"].as_str().unwrap().to_string(),
                s["tagPatternList"][0].as_str().unwrap_or("").to_string(),
                s["countType"].as_str().unwrap().to_string(),
                s["countNumber"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn rule(status: &str, pattern: &str, count_type: &str, number: u64) -> (String, String, String, u64) {
    (status.into(), pattern.into(), count_type.into(), number)
}

#[test]
fn the_lifecycle_policy_follows_the_tag_rules_of_flags_and_file() {
    let work = scratch_dir("lifecycle-rules");
    let run = policy(work.path(), &["--lifecycle"]).run().success();
    let printed: Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert!(printed["push_policy"]["Statement"].is_array(), "the push policy is still printed");
    assert_eq!(
        rules(&printed["lifecycle_policy"]),
        vec![
            rule("tagged", "main", "imageCountMoreThan", 9999),
            rule("tagged", "v*.*.*", "imageCountMoreThan", 9999),
            rule("tagged", "pr-*", "sinceImagePushed", 14),
            rule("tagged", "sha-*", "imageCountMoreThan", 30),
            rule("untagged", "", "sinceImagePushed", 7),
        ]
    );
    assert_eq!(printed["lifecycle_policy"]["rules"][2]["selection"]["countUnit"], "days");

    // The file's tag rules and default branch, the flags' numbers; the file holds the lifecycle policy alone.
    std::fs::write(
        work.path().join(".ecr-ship.yml"),
        "tags:\n  templates: [\"{branch}-{sha:7}\", \"pr-{pr}\", \"{git_tag}\"]\n  default-branch: trunk\n",
    )
    .unwrap();
    let run = policy(
        work.path(),
        &[
            "--lifecycle",
            "--pr-days",
            "3",
            "--keep-commits",
            "5",
            "--untagged-days",
            "0",
            "--keep-tag",
            "prod",
            "--lifecycle-policy-file",
            "lifecycle.json",
        ],
    )
    .run()
    .success();
    let printed: Value = serde_json::from_str(&run.stdout).unwrap();
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(work.path().join("lifecycle.json")).unwrap()).unwrap();
    assert_eq!(written, printed["lifecycle_policy"]);
    assert_eq!(
        rules(&written),
        vec![
            rule("tagged", "v*.*.*", "imageCountMoreThan", 9999),
            rule("tagged", "prod", "imageCountMoreThan", 9999),
            rule("tagged", "pr-*", "sinceImagePushed", 3),
            rule("tagged", "*-*", "imageCountMoreThan", 5),
            rule("tagged", "trunk-*", "imageCountMoreThan", 5),
        ]
    );
    // ECR_SHIP_TAGS is read as push reads it.
    let run = policy(work.path(), &["--lifecycle"]).env("ECR_SHIP_TAGS", "type=ref,event=pr\ntype=sha").run().success();
    let printed: Value = serde_json::from_str(&run.stdout).unwrap();
    let patterns: Vec<String> = rules(&printed["lifecycle_policy"]).into_iter().map(|r| r.1).collect();
    assert_eq!(patterns, ["pr-*", "sha-*", ""]);
}

#[test]
fn lifecycle_rules_ecr_cannot_express_are_refused_offline() {
    let work = scratch_dir("lifecycle-bad");
    let silent = crate::support::SilentServer::start();
    for (args, needle) in [
        (vec!["--lifecycle", "--tag", "{pr}", "--tag", "{sha:7}"], "cannot tell apart"),
        (vec!["--lifecycle", "--tag", "{pr}-{sha:7}-{run}-{date}-{sha:5}"], "wildcards"),
        (vec!["--lifecycle", "--keep-tag", "sha-*"], "invalid --keep-tag 'sha-*'"),
        (vec!["--lifecycle", "--keep-tag", "a b"], "invalid --keep-tag 'a b'"),
        (vec!["--lifecycle", "--pr-days", "0"], "invalid --pr-days 0"),
        (vec!["--lifecycle", "--keep-commits", "9999"], "invalid --keep-commits 9999"),
        (vec!["--pr-days", "3"], "--pr-days shapes the lifecycle policy"),
        (vec!["--lifecycle-policy-file", "x.json"], "add --lifecycle"),
        (vec!["--lifecycle", "--registry", "public.ecr.aws/octo"], "ECR Public repositories have no lifecycle"),
    ] {
        let mut ship = Ship::new(&["policy", "--repository", "team/app"]).cwd(work.path());
        if !args.contains(&"--registry") {
            ship = ship.arg("--region").arg("us-east-1");
        }
        ship.args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).refused_offline(&silent, needle);
    }
    assert!(!work.path().join("x.json").exists());
}

/// The README's lifecycle recipe: its `sh` block under the storage heading, one command a line.
#[cfg(feature = "stand-ins")]
fn readme_recipe() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let heading = "## Storage: a lifecycle policy from the tag rules, and what the repository costs";
    let section = readme.split_once(heading).expect("the README's storage section").1;
    let block = section.split_once("```sh\n").expect("a ```sh block").1.split_once("```").unwrap().0;
    block.lines().map(str::to_string).collect()
}

#[cfg(feature = "stand-ins")]
#[test]
fn put_lifecycle_policy_accepts_the_readme_recipe_and_the_summary_counts_shared_layers_once() {
    use crate::support::ecr::{Ecr, HOST};
    use crate::support::images::{Layout, SHA, random_layer};

    let ecr = Ecr::start();
    let work = scratch_dir("lifecycle-readme");
    // Two images that share their first layer.
    let shared = random_layer("shared", 60_000, true);
    let mut layout = Layout::new(&work.path().join("build/oci"));
    let first = layout.image(&[shared.clone(), random_layer("one", 20_000, true)], "amd64");
    layout.name(first.clone(), "latest");
    let mut other = Layout::new(&work.path().join("other/oci"));
    let second = other.image(&[shared.clone(), random_layer("two", 30_000, true)], "amd64");
    other.name(second.clone(), "latest");

    let recipe = readme_recipe();
    assert_eq!(recipe.len(), 2, "{recipe:?}");
    assert!(recipe[0].starts_with("ecr-ship policy ") && recipe[1].starts_with("ecr-ship push "), "{recipe:?}");
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_ecr-ship")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", binary_dir.display(), std::env::var("PATH").unwrap_or_default());
    let summary = work.path().join("summary.md");
    std::fs::write(&summary, "").unwrap();
    for line in &recipe {
        let output = ecr
            .wrap("sh")
            .args(["-c", line])
            .env_clear()
            .envs(ecr.env())
            .env("PATH", &path)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("ECR_SHIP_SHA", SHA)
            .env("ECR_SHIP_BRANCH", "main")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", summary.display().to_string())
            .current_dir(work.path())
            .output()
            .expect("run sh");
        assert!(output.status.success(), "{line}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let written = std::fs::read_to_string(work.path().join("lifecycle.json")).expect("the recipe wrote lifecycle.json");
    let stored =
        ecr.moto.python("print(client('ecr').get_lifecycle_policy(repositoryName='team/app')['lifecyclePolicyText'])");
    let stored: Value = serde_json::from_str(stored.trim()).unwrap();
    assert_eq!(stored, serde_json::from_str::<Value>(&written).unwrap(), "PutLifecyclePolicy took the printed policy");
    assert_eq!(stored["rules"][0]["selection"]["tagPatternList"][0], "main");

    // As `aws ecr put-lifecycle-policy --lifecycle-policy-text file://lifecycle.json` sends it, through the front.
    let answer = ecr.moto.python(&format!(
        "ecr = client('ecr')\necr.create_repository(repositoryName='team/cli')\n\
         print(ecr.put_lifecycle_policy(repositoryName='team/cli', lifecyclePolicyText={written:?})['repositoryName'])"
    ));
    assert_eq!(answer.trim(), "team/cli");

    // A policy ECR refuses is exit 2 before the push sends anything.
    let bad = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["a*b*c*d*e*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
    std::fs::write(work.path().join("bad.json"), bad).unwrap();
    let requests = ecr.stat("api_requests");
    Ship::new(&["push", "--repository", "team/bad", "--sha", SHA, "--from", "oci:build/oci", "--create-repository"])
        .args_from(&["--lifecycle-policy".to_string(), "bad.json".to_string()])
        .against(&ecr)
        .cwd(work.path())
        .run()
        .fails_with(2, "has 5 wildcards; ECR allows at most 4 per pattern");
    assert_eq!(ecr.stat("api_requests"), requests, "nothing was sent");

    // A push measures only when asked: the walk reads every manifest, which ECR records as a pull of each image.
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(!text.contains("storage of"), "the recipe's push did not measure: {text}");
    let measured = |args: &[&str]| {
        std::fs::write(&summary, "").unwrap();
        let run = Ship::new(&["push", "--repository", "team/app", "--storage-summary", "true"])
            .args_from(&args.iter().map(|arg| arg.to_string()).collect::<Vec<_>>())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", summary.display().to_string())
            .against(&ecr)
            .cwd(work.path())
            .run()
            .success();
        (run, std::fs::read_to_string(&summary).unwrap())
    };
    // The first image alone (pushed again: nothing to upload); then the second, sharing a layer, counted once.
    let (_, text) = measured(&["--sha", SHA, "--from", "oci:build/oci"]);
    let size = |descriptor: &Value, layout: &Layout| -> u64 {
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(layout.blob_path(descriptor["digest"].as_str().unwrap())).unwrap())
                .unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        manifest["config"]["size"].as_u64().unwrap() + layers.iter().map(|l| l["size"].as_u64().unwrap()).sum::<u64>()
    };
    let first_bytes = size(&first, &layout);
    assert!(text.contains("### ecr-ship: storage of team/app"), "{text}");
    assert!(text.contains(&format!("({first_bytes} bytes) | 1 | 3 | $0.00 a month at $0.10 per GB-month")), "{text}");
    let second_sha = "b".repeat(40);
    let (run, text) = measured(&["--sha", &second_sha, "--from", "oci:other/oci", "--price-per-gb", "1000"]);
    assert_eq!(run.stdout, format!("{HOST}/team/app:sha-bbbbbbb\n"));
    let shared_size = shared.blob.len() as u64;
    let total = first_bytes + size(&second, &other) - shared_size;
    let dollars = total as f64 / 1_073_741_824.0 * 1000.0;
    assert!(
        text.contains(&format!(
            "({total} bytes) | 2 | 5 | ${dollars:.2} a month at $1000.00 per GB-month (--price-per-gb)"
        )),
        "the shared layer counts once ({total} bytes):\n{text}"
    );
    assert!(run.stderr.contains("'team/app' stores "), "{}", run.stderr);

    // --storage-summary false: no walk, no section.
    std::fs::write(&summary, "").unwrap();
    Ship::new(&[
        "push",
        "--repository",
        "team/app",
        "--sha",
        SHA,
        "--from",
        "oci:build/oci",
        "--storage-summary",
        "false",
    ])
    .env("GITHUB_ACTIONS", "true")
    .env("GITHUB_STEP_SUMMARY", summary.display().to_string())
    .against(&ecr)
    .cwd(work.path())
    .run()
    .success();
    assert!(!std::fs::read_to_string(&summary).unwrap().contains("storage of"));
}

/// The footprint walk in-process against moto under enforced IAM: a user holding exactly the push policy
/// `ecr-ship policy` prints may measure (DescribeImages, BatchGetImage), two images sharing a layer and an index
/// over them count each blob once, and a role without BatchGetImage gets a sentence naming the call.
#[cfg(feature = "stand-ins")]
#[tokio::test]
async fn the_printed_push_policy_admits_the_footprint_walk() {
    use crate::support::moto::Moto;
    use ecr_ship::aws::{AwsOptions, AwsSettings, storage};
    use serde_json::json;

    let moto = Moto::start();
    let digest = |text: &str| crate::support::images::digest_of(text.as_bytes());
    let blob = |n: u8, size: u64| {
        json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": size,
        "digest": format!("sha256:{}", format!("{n:02x}").repeat(32))})
    };
    let image = |config: u8, layers: Vec<Value>| {
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 100 + config as u64,
                       "digest": format!("sha256:{}", format!("{config:02x}").repeat(32))},
            "layers": layers})
        .to_string()
    };
    let one = image(1, vec![blob(10, 5_000), blob(11, 700)]);
    let two = image(2, vec![blob(10, 5_000), blob(12, 900)]);
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": one.len(), "digest": digest(&one)},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": two.len(), "digest": digest(&two)}]})
    .to_string();
    let work = scratch_dir("lifecycle-iam");
    let printed = Ship::new(&["policy", "--repository", "team/app", "--registry", crate::support::ecr::HOST])
        .cwd(work.path())
        .run()
        .success();
    let printed: Value = serde_json::from_str(&printed.stdout).unwrap();
    let policy = |actions_out: &[&str]| {
        let mut document = printed["push_policy"].clone();
        for statement in document["Statement"].as_array_mut().unwrap() {
            // moto checks ECR calls against the resource `*`, not the repository's ARN: the actions are what count.
            statement["Resource"] = json!("*");
            statement["Action"].as_array_mut().unwrap().retain(|a| !actions_out.contains(&a.as_str().unwrap()));
        }
        document.to_string()
    };
    let keys: Value = serde_json::from_str(
        moto.python(&format!(
            r#"
ecr = client("ecr")
ecr.create_repository(repositoryName="team/app")
for text, tag in [({one:?}, "one"), ({two:?}, "two"), ({index:?}, "release")]:
    import hashlib
    ecr.put_image(repositoryName="team/app", imageManifest=text, imageTag=tag,
                  imageDigest="sha256:" + hashlib.sha256(text.encode()).hexdigest())
iam = client("iam")
keys = {{}}
for name, document in [("full", {full:?}), ("narrow", {narrow:?})]:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="push", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    keys[name] = [key["AccessKeyId"], key["SecretAccessKey"]]
print(json.dumps(keys))
"#,
            full = policy(&[]),
            narrow = policy(&["ecr:BatchGetImage"]),
        ))
        .trim(),
    )
    .unwrap();
    moto.post("/moto-api/reset-auth", "0");
    let session = |user: &str| {
        let mut env: std::collections::BTreeMap<String, String> = moto.env().into_iter().collect();
        env.insert("AWS_ACCESS_KEY_ID".into(), keys[user][0].as_str().unwrap().into());
        env.insert("AWS_SECRET_ACCESS_KEY".into(), keys[user][1].as_str().unwrap().into());
        async move { AwsSettings::validate(AwsOptions::default(), &env).unwrap().connect(&env).await.unwrap() }
    };
    let full = session("full").await;
    let footprint = storage::repository_footprint(&full, "team/app").await;
    let narrow = session("narrow").await;
    let denied = storage::repository_footprint(&narrow, "team/app").await;
    moto.post("/moto-api/reset-auth", "inf");

    let footprint = footprint.expect("the push policy admits the walk");
    assert_eq!(footprint, storage::Footprint { manifests: 3, blobs: 5, bytes: 101 + 102 + 5_000 + 700 + 900 });
    let error = format!("{:#}", denied.expect_err("BatchGetImage is denied"));
    assert!(error.starts_with("measuring the stored size of 'team/app': BatchGetImage for 'team/app'"), "{error}");
    assert!(error.contains("ecr:BatchGetImage"), "{error}");
}
