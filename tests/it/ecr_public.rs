//! ECR Public end to end through the real binary: native, docker and podman pushes to
//! `public.ecr.aws/ecr-ship-test/app` (the stand-in's ECR Public: its SpencerFrontendService API in us-east-1 and a
//! token-auth registry under the real host name), every tag pulled back by that name, re-runs idempotent, a created
//! repository's catalog data read back, retag, the bearer token renewed mid-push, bad input refused offline, and the
//! policy printer's public output.

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::path::Path;

use serde_json::{Value, json};

use crate::support::ecr::{Ecr, PUBLIC_ALIAS, PUBLIC_HOST};
use crate::support::images::{Layout, random_layer};
use crate::support::images::{SHA, single_image_layout};
use crate::support::{Run, Ship, moto::PASSWORD, scratch_dir};

fn registry() -> String {
    format!("{PUBLIC_HOST}/{PUBLIC_ALIAS}")
}

fn public_push(ecr: &Ecr, cwd: &Path, args: &[&str]) -> Run {
    Ship::new(&["push", "--registry", &registry(), "--repository", "app", "--sha", SHA, "--branch", "main"])
        .args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        .against(ecr)
        .cwd(cwd)
        .run()
}

/// No registry password, of either kind, in what a run printed or wrote.
fn assert_no_password(run: &Run, files: &[&str]) {
    for text in [run.stdout.as_str(), run.stderr.as_str()].into_iter().chain(files.iter().copied()) {
        assert!(!text.contains(PASSWORD), "the private ECR password leaked");
        assert!(!text.contains("Bearer ") && !text.contains("eyJ"), "a bearer token leaked: {text}");
    }
}

#[cfg(feature = "stand-ins")]
#[test]
fn native_push_creates_the_public_repository_with_its_catalog_and_is_idempotent() {
    let ecr = Ecr::start();
    let work = scratch_dir("public-native");
    let digest = single_image_layout(&work.path().join("oci"), "public-one");
    std::fs::write(work.path().join("about.md"), "# app\nA tool.\n").unwrap();
    std::fs::write(work.path().join("usage.md"), "docker pull public.ecr.aws/ecr-ship-test/app\n").unwrap();
    std::fs::write(work.path().join("logo.png"), b"\x89PNG\r\n\x1a\nnot really an image").unwrap();
    let github_output = work.path().join("github_output");
    std::fs::write(&github_output, "").unwrap();
    // The job's region is not us-east-1: the ECR Public API is reached there anyway (the stand-in refuses any other
    // signing region, as the service exists only there).
    let first =
        Ship::new(&["push", "--registry", &registry(), "--repository", "app", "--sha", SHA, "--branch", "main"])
            .args_from(&["--from", "oci:oci", "--create-repository", "--latest"].map(String::from))
            .args_from(
                &["--description", "The app", "--about-text", "about.md", "--usage-text", "usage.md"].map(String::from),
            )
            .args_from(
                &["--architecture", "x86-64", "--architecture", "ARM 64", "--operating-system", "Linux"]
                    .map(String::from),
            )
            .args_from(&["--logo", "logo.png"].map(String::from))
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", github_output.display().to_string())
            .against(&ecr)
            .env("AWS_REGION", "eu-west-1")
            .cwd(work.path())
            .run()
            .success();
    assert_eq!(first.stdout, format!("{}/app:sha-3f78685\n", registry()), "stdout carries only the image URI");
    for tag in ["sha-3f78685", "main", "latest"] {
        assert_eq!(ecr.public_pull_digest("app", tag).as_deref(), Some(digest.as_str()), "pull of {tag}");
    }
    let api_tags = ecr.public_api_tags("app");
    assert_eq!(api_tags.len(), 3, "{api_tags:?}");
    assert!(api_tags.values().all(|d| *d == digest), "{api_tags:?}");
    let outputs = std::fs::read_to_string(&github_output).unwrap();
    assert!(outputs.contains(&format!("registry={}\n", registry())), "{outputs}");
    assert!(outputs.contains(&format!("image-uri-digest={}/app@{digest}\n", registry())), "{outputs}");
    assert!(outputs.contains(&format!("digest={digest}\n")), "{outputs}");

    let catalog = ecr.public_catalog("app");
    assert_eq!(catalog["description"], "The app", "{catalog}");
    assert_eq!(catalog["aboutText"], "# app\nA tool.\n", "{catalog}");
    assert_eq!(catalog["usageText"], "docker pull public.ecr.aws/ecr-ship-test/app\n", "{catalog}");
    assert_eq!(catalog["architectures"], json!(["x86-64", "ARM 64"]), "{catalog}");
    assert_eq!(catalog["operatingSystems"], json!(["Linux"]), "{catalog}");
    assert!(catalog["logoUrl"].as_str().is_some_and(|u| !u.is_empty()), "the logo was stored: {catalog}");
    assert_no_password(&first, &[&outputs]);

    // A re-run of the same job: every tag already points at the image; nothing is uploaded, it is not an error.
    let again = public_push(&ecr, work.path(), &["--from", "oci:oci", "--latest"]).success();
    assert!(again.stderr.contains("nothing to upload"), "{}", again.stderr);
    assert_eq!(again.stdout, first.stdout);

    // The catalog data changes only when asked to.
    public_push(&ecr, work.path(), &["--from", "oci:oci", "--description", "Ignored"]).success();
    assert_eq!(ecr.public_catalog("app")["description"], "The app");
    public_push(&ecr, work.path(), &["--from", "oci:oci", "--description", "Changed", "--update-repository-settings"])
        .success();
    assert_eq!(ecr.public_catalog("app")["description"], "Changed");

    // Server-side retag on a public repository: the manifest is read from the registry, PutImage is ECR Public's.
    let retag = Ship::new(&["retag", "--registry", &registry(), "--repository", "app", "sha-3f78685", "release-1"])
        .against(&ecr)
        .run()
        .success();
    assert_eq!(retag.stdout, format!("{}/app:release-1\n", registry()));
    assert_eq!(ecr.public_pull_digest("app", "release-1").as_deref(), Some(digest.as_str()));
    // A retag to a tag that already points there is not an error either.
    Ship::new(&["retag", "--registry", &registry(), "--repository", "app", &digest, "release-1"])
        .against(&ecr)
        .run()
        .success();

    // Bare public.ecr.aws: the caller's default alias, from DescribeRegistries.
    let bare =
        Ship::new(&["push", "--registry", PUBLIC_HOST, "--repository", "app", "--sha", SHA, "--from", "oci:oci"])
            .args_from(&["--tag".to_string(), "bare".to_string()])
            .against(&ecr)
            .cwd(work.path())
            .run()
            .success();
    assert_eq!(bare.stdout, format!("{}/app:bare\n", registry()));
    assert_eq!(ecr.public_pull_digest("app", "bare").as_deref(), Some(digest.as_str()));
}

#[cfg(feature = "stand-ins")]
#[test]
fn a_missing_public_repository_is_not_created_without_being_asked() {
    let ecr = Ecr::start();
    let work = scratch_dir("public-missing");
    single_image_layout(&work.path().join("oci"), "public-missing");
    let run = public_push(&ecr, work.path(), &["--from", "oci:oci"]).fails_with(1, "does not exist");
    assert!(run.stderr.contains("--create-repository"), "{}", run.stderr);
    assert!(ecr.public_repositories().is_empty(), "nothing was created");
}

/// The bearer token the registry's token service issues expires mid-push: the client exchanges the registry
/// password for a new one and the push completes, every tag pulling back.
#[cfg(feature = "stand-ins")]
#[test]
fn an_expired_bearer_token_is_renewed_mid_push() {
    let ecr = Ecr::start();
    let work = scratch_dir("public-bearer");
    let mut layout = Layout::new(&work.path().join("oci"));
    let layers: Vec<_> = (0..4).map(|i| random_layer(&format!("bearer-{i}"), 30_000, true)).collect();
    let manifest = layout.image(&layers, "amd64");
    let digest = layout.name(manifest, "latest");
    ecr.public_create_repository("app", json!({}));
    ecr.configure(json!({"public_bearer_requests": 3}));
    let run = public_push(&ecr, work.path(), &["--from", "oci:oci", "--tag", "v1", "--tag", "v2"]).success();
    assert!(ecr.stat("public_bearer_expired_answers") >= 1, "the token expired mid-push: {}", ecr.stats());
    assert!(ecr.stat("public_bearer_issued") >= 2, "and a new one was exchanged: {}", ecr.stats());
    for tag in ["v1", "v2"] {
        assert_eq!(ecr.public_pull_digest("app", tag).as_deref(), Some(digest.as_str()), "pull of {tag}");
    }
    assert_no_password(&run, &[]);
}

/// An `--image` push to ECR Public with `extra` flags (docker's `--transfer`), then its idempotent re-run.
fn engine_push_to_public(
    ecr: &Ecr,
    engine: &str,
    engine_env: &[(String, String)],
    work: &Path,
    extra: &[&str],
) -> String {
    let github_output = work.join("github_output");
    std::fs::write(&github_output, "").unwrap();
    let mut args =
        vec!["--image", "app:1", "--engine", engine, "--create-repository", "--tag", "{branch}", "--tag", "v1"];
    args.extend_from_slice(extra);
    let args: Vec<String> = args.into_iter().map(String::from).collect();
    let run = Ship::new(&["push", "--registry", &registry(), "--repository", "app", "--sha", SHA])
        .args_from(&["--branch".to_string(), "feature/Public".to_string()])
        .args_from(&args)
        .envs(engine_env.iter().map(|(k, v)| (k, v)))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", github_output.display().to_string())
        .against(ecr)
        .cwd(work)
        .run()
        .success();
    assert_eq!(run.stdout, format!("{}/app:feature-public\n", registry()));
    let outputs = std::fs::read_to_string(&github_output).unwrap();
    let digest = outputs
        .lines()
        .find_map(|l| l.strip_prefix("digest="))
        .unwrap_or_else(|| panic!("no digest output: {outputs}"))
        .to_string();
    for tag in ["feature-public", "v1"] {
        assert_eq!(ecr.public_pull_digest("app", tag).as_deref(), Some(digest.as_str()), "{engine}: pull of {tag}");
    }
    assert_no_password(&run, &[&outputs]);

    // A re-run is idempotent: the engine's own record of the pushed digest (its push), or the plan's digest (the
    // export), says every tag is already there.
    let again = Ship::new(&["push", "--registry", &registry(), "--repository", "app", "--sha", SHA])
        .args_from(&["--branch".to_string(), "feature/Public".to_string()])
        .args_from(&args)
        .envs(engine_env.iter().map(|(k, v)| (k, v)))
        .against(ecr)
        .cwd(work)
        .run()
        .success();
    assert_eq!(again.stdout, run.stdout);
    digest
}

#[cfg(feature = "stand-ins")]
#[test]
fn docker_pushes_to_ecr_public_and_logs_out() {
    use crate::support::dockerd::Dockerd;
    let ecr = Ecr::start();
    let dockerd = Dockerd::start_with_hosts(Some(&ecr.hosts_file));
    let work = scratch_dir("public-docker");
    let docker_config = work.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    dockerd.build_scratch_image("app:1", &[("hello.txt", b"hello, public" as &[u8])]);
    let env = vec![
        ("DOCKER_HOST".to_string(), dockerd.host()),
        ("DOCKER_CONFIG".to_string(), docker_config.display().to_string()),
    ];
    // docker push itself, logged in and out again.
    let pushed = engine_push_to_public(&ecr, "docker", &env, work.path(), &["--transfer", "engine"]);
    let config = std::fs::read_to_string(docker_config.join("config.json")).unwrap_or_default();
    assert!(!config.contains(PUBLIC_HOST), "the login was removed after the push: {config}");
    // The default: docker exports, ecr-ship pushes (another manifest digest: ecr-ship gzipped the layers).
    let exported = engine_push_to_public(&ecr, "docker", &env, work.path(), &[]);
    assert_ne!(exported, pushed, "the default push is ecr-ship's own manifest");
    assert!(!std::fs::read_to_string(docker_config.join("config.json")).unwrap_or_default().contains(PUBLIC_HOST));
}

#[cfg(feature = "stand-ins")]
#[test]
fn podman_pushes_to_ecr_public_and_logs_out() {
    use crate::support::podman::Podman;
    let ecr = Ecr::start();
    let podman = Podman::new(&[PUBLIC_HOST]);
    let work = scratch_dir("public-podman");
    podman.build_scratch_image("app:1", &[("hello.txt", b"hello, public podman" as &[u8])]);
    let env: Vec<(String, String)> = podman.env().into_iter().collect();
    engine_push_to_public(&ecr, "podman", &env, work.path(), &[]);
    let auth = std::fs::read_to_string(podman.auth_file()).unwrap_or_default();
    assert!(!auth.contains(PUBLIC_HOST), "the login was removed after the push: {auth}");
}

#[cfg(feature = "stand-ins")]
#[test]
fn login_to_ecr_public_gives_the_engine_a_working_login() {
    use crate::support::dockerd::Dockerd;
    let ecr = Ecr::start();
    let dockerd = Dockerd::start_with_hosts(Some(&ecr.hosts_file));
    let work = scratch_dir("public-login");
    let docker_config = work.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let env = [
        ("DOCKER_HOST".to_string(), dockerd.host()),
        ("DOCKER_CONFIG".to_string(), docker_config.display().to_string()),
    ];
    let run = Ship::new(&["login", "--registry", PUBLIC_HOST, "--engine", "docker"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .against(&ecr)
        .run()
        .success();
    assert_eq!(run.stdout, format!("{PUBLIC_HOST}\n"));
    let config = std::fs::read_to_string(docker_config.join("config.json")).unwrap();
    assert!(config.contains(PUBLIC_HOST), "{config}");
    assert_no_password(&run, &[]);

    // The engine can push with that login on its own.
    ecr.public_create_repository("app", json!({}));
    dockerd.build_scratch_image("app:2", &[("two.txt", b"two" as &[u8])]);
    let target = format!("{}/app:by-docker", registry());
    let config_dir = docker_config.as_path();
    assert!(dockerd.docker(config_dir, &["tag", "app:2", &target]).status.success());
    let pushed = dockerd.docker(config_dir, &["push", &target]);
    assert!(pushed.status.success(), "docker push with ecr-ship's login: {}", String::from_utf8_lossy(&pushed.stderr));
    assert!(ecr.public_pull_digest("app", "by-docker").is_some());

    Ship::new(&["logout", "--engine", "docker"]).envs(env.iter().map(|(k, v)| (k, v))).against(&ecr).run().success();
    let config = std::fs::read_to_string(docker_config.join("config.json")).unwrap_or_default();
    assert!(!config.contains(PUBLIC_HOST), "logout removed it: {config}");
}

#[test]
fn bad_public_input_is_refused_before_anything_is_sent() {
    let work = scratch_dir("public-bad");
    let nothing = crate::support::SilentServer::start();
    let cases: [(&[&str], &str); 7] = [
        (&["--registry", "public.ecr.aws/Bad_Alias"], "Bad_Alias"),
        (&["--registry", "public.ecr.aws/a"], "'a'"),
        (&["--registry", &registry(), "--repository", "x"], "'x'"),
        (&["--registry", &registry(), "--tag-mutability", "IMMUTABLE"], "--tag-mutability"),
        (&["--registry", &registry(), "--region", "cn-north-1"], "cn-north-1"),
        (&["--registry", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "--description", "d"], "ECR Public"),
        (&["--registry", &registry(), "--description", &"d".repeat(1025)], "1024"),
    ];
    for (args, needle) in cases {
        let mut argv = vec!["push", "--sha", SHA, "--from", "oci:nowhere"];
        if !args.contains(&"--repository") {
            argv.extend(["--repository", "app"]);
        }
        argv.extend_from_slice(args);
        Ship::new(&argv).cwd(work.path()).refused_offline(&nothing, needle);
    }
    let tags = Ship::new(&["tags", "--registry", PUBLIC_HOST, "--repository", "app", "--sha", SHA]).run();
    assert_eq!(tags.code, 2, "{}", tags.stderr);
    assert!(tags.stderr.contains("public.ecr.aws/ALIAS"), "{}", tags.stderr);
}

#[test]
fn tags_prints_public_references_offline() {
    let run = Ship::new(&["tags", "--registry", &registry(), "--repository", "tools/app", "--sha", SHA])
        .args_from(&["--branch".to_string(), "main".to_string()])
        .run()
        .success();
    assert_eq!(run.stdout, format!("{0}/tools/app:sha-3f78685\n{0}/tools/app:main\n", registry()), "{}", run.stderr);
}

fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
    policy["Statement"].as_array().expect("statements").iter().find(|s| s["Sid"] == sid).unwrap_or(&Value::Null)
}

#[test]
fn policy_prints_the_least_privilege_public_policy() {
    let run = Ship::new(&["policy", "--registry", &registry(), "--repository", "app", "--account-id", "123456789012"])
        .args_from(&["--create-repository".to_string()])
        .run()
        .success();
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    let policy = &document["push_policy"];
    let login = statement(policy, "EcrPublicLogin");
    assert_eq!(login["Action"], json!(["ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"]));
    assert_eq!(login["Resource"], "*");
    let arn = "arn:aws:ecr-public::123456789012:repository/app";
    let push = statement(policy, "EcrPublicPush");
    assert_eq!(push["Resource"], arn);
    for action in [
        "ecr-public:BatchCheckLayerAvailability",
        "ecr-public:InitiateLayerUpload",
        "ecr-public:UploadLayerPart",
        "ecr-public:CompleteLayerUpload",
        "ecr-public:PutImage",
        "ecr-public:DescribeImageTags",
        "ecr-public:DescribeRepositories",
    ] {
        assert!(push["Action"].as_array().unwrap().contains(&json!(action)), "{action} missing: {push}");
    }
    let create = statement(policy, "EcrPublicCreateRepository");
    assert_eq!(create["Resource"], arn);
    assert!(create["Action"].as_array().unwrap().contains(&json!("ecr-public:CreateRepository")), "{create}");
    assert!(create["Action"].as_array().unwrap().contains(&json!("ecr-public:PutRepositoryCatalogData")));
    assert!(!run.stdout.contains("\"ecr:"), "no private ECR action: {}", run.stdout);

    // Without the alias the default one is looked up, which DescribeRegistries needs; without an account, `*`.
    let bare = Ship::new(&["policy", "--registry", PUBLIC_HOST, "--repository", "app"]).run().success();
    let document: Value = serde_json::from_str(&bare.stdout).unwrap();
    let login = statement(&document["push_policy"], "EcrPublicLogin");
    assert!(login["Action"].as_array().unwrap().contains(&json!("ecr-public:DescribeRegistries")), "{login}");
    assert_eq!(
        statement(&document["push_policy"], "EcrPublicPush")["Resource"],
        "arn:aws:ecr-public::*:repository/app"
    );
}

/// Under enforced IAM, a user holding exactly the policy `ecr-ship policy` prints creates the public repository
/// and pushes; one without the idempotency check's DescribeImageTags is denied with a message naming that action
/// and the command that prints the policy.
#[cfg(feature = "stand-ins")]
#[test]
fn the_printed_public_policy_is_enough_under_enforced_iam() {
    let ecr = Ecr::start();
    let work = scratch_dir("public-iam");
    let digest = single_image_layout(&work.path().join("oci"), "public-iam");
    let printed = Ship::new(&["policy", "--registry", &registry(), "--repository", "app", "--account-id"])
        .args_from(&["123456789012".to_string(), "--create-repository".to_string()])
        .run()
        .success();
    let policy = serde_json::from_str::<Value>(&printed.stdout).unwrap()["push_policy"].to_string();
    let mut lacking: Value = serde_json::from_str(&policy).unwrap();
    for statement in lacking["Statement"].as_array_mut().unwrap() {
        if let Some(actions) = statement["Action"].as_array_mut() {
            actions.retain(|a| a != "ecr-public:DescribeImageTags");
        }
    }
    let keys: Value = serde_json::from_str(ecr.moto.python(&format!(
        "iam = client('iam')\nout = {{}}\nfor user, policy in [('publisher', {policy:?}), ('lacking', {lacking:?})]:\n    \
         iam.create_user(UserName=user)\n    iam.put_user_policy(UserName=user, PolicyName='p', PolicyDocument=policy)\n    \
         key = iam.create_access_key(UserName=user)['AccessKey']\n    out[user] = [key['AccessKeyId'], key['SecretAccessKey']]\n\
         print(json.dumps(out))",
        lacking = lacking.to_string()
    ))
    .trim())
    .unwrap();
    let as_user = |user: &str, args: &[&str]| {
        Ship::new(&["push", "--registry", &registry(), "--repository", "app", "--sha", SHA, "--from", "oci:oci"])
            .args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
            .against(&ecr)
            .env("AWS_ACCESS_KEY_ID", keys[user][0].as_str().unwrap())
            .env("AWS_SECRET_ACCESS_KEY", keys[user][1].as_str().unwrap())
            .cwd(work.path())
            .run()
    };
    ecr.moto.post("/moto-api/reset-auth", "0");
    let allowed = as_user("publisher", &["--create-repository", "--description", "IAM-checked"]);
    let denied = as_user("lacking", &["--tag", "other"]);
    ecr.moto.post("/moto-api/reset-auth", "inf");
    assert_eq!(allowed.code, 0, "{}\nstand-in log:\n{}", allowed.stderr, ecr.log());
    assert!(allowed.stderr.contains("authenticated as arn:aws:iam::123456789012:user/publisher"), "{}", allowed.stderr);
    assert_eq!(ecr.public_pull_digest("app", "sha-3f78685").as_deref(), Some(digest.as_str()));
    let denied = denied.fails_with(1, "ecr-public:DescribeImageTags");
    assert!(denied.stderr.contains("arn:aws:ecr-public::123456789012:repository/app"), "{}", denied.stderr);
    assert!(
        denied.stderr.contains("ecr-ship policy --registry public.ecr.aws --repository app"),
        "the denial points at the policy: {}",
        denied.stderr
    );
    assert!(!denied.stderr.contains(" { "), "no Debug output: {}", denied.stderr);
    assert_eq!(ecr.public_pull_digest("app", "other"), None);
}
