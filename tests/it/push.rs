//! `ecr-ship push` end to end through the real binary, against the local ECR (moto + docker-registry joined by the
//! bridge) reached by its real host name inside a mount namespace: native pushes from OCI layouts, docker archives
//! and multi-arch indexes (OCI archives in `oci_archive.rs`), re-run idempotence, immutable conflicts with nothing uploaded, --skip-existing, and every
//! pushed tag pulled back with the same digest.

use std::path::{Path, PathBuf};

use crate::support::dockerd::Dockerd;
use crate::support::ecr::push;
use crate::support::ecr::{Ecr, HOST};
use crate::support::images::{Layout, SHA, random_layer, single_image_layout};
use crate::support::{Ship, moto::PASSWORD, scratch_dir};

#[test]
fn native_push_from_an_oci_layout_is_pullable_and_idempotent() {
    let ecr = Ecr::start();
    let work = scratch_dir("push-oci");
    let digest = single_image_layout(&work.path().join("oci"), "one");
    let github_output = work.path().join("github_output");
    std::fs::write(&github_output, "").unwrap();

    let first = Ship::new(&["push", "--repository", "team/app", "--sha", SHA, "--branch", "main", "--from", "oci:oci"])
        .args_from(&["--create-repository".into(), "--latest".into()])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", github_output.display().to_string())
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();
    assert_eq!(first.stdout, format!("{HOST}/team/app:sha-3f78685\n"), "stdout carries only the image URI");
    for tag in ["sha-3f78685", "main", "latest"] {
        assert_eq!(ecr.pull_digest("team/app", tag).as_deref(), Some(digest.as_str()), "pull of {tag}");
    }
    let outputs = std::fs::read_to_string(&github_output).unwrap();
    assert!(outputs.contains(&format!("digest={digest}\n")), "{outputs}");
    assert!(outputs.contains(&format!("image-uri-digest={HOST}/team/app@{digest}\n")), "{outputs}");
    assert!(outputs.contains("tag-mutability=MUTABLE\n"), "{outputs}");
    for text in [&first.stdout, &first.stderr, &outputs] {
        assert!(!text.contains(PASSWORD), "the registry password leaked");
    }

    // A re-run of the same job: every tag already points at the image; nothing is uploaded, it is not an error.
    let again = push(&ecr, work.path(), &["--from", "oci:oci", "--latest"]).success();
    assert!(again.stderr.contains("nothing to upload"), "{}", again.stderr);
    assert!(again.stderr.contains("tag main already points at"), "{}", again.stderr);
    assert_eq!(again.stdout, first.stdout);

    // Server-side retag of the single-platform manifest: no pull, same digest under the new tag.
    let retag =
        Ship::new(&["retag", "--repository", "team/app", "sha-3f78685", "release-1"]).against(&ecr).run().success();
    assert_eq!(retag.stdout, format!("{HOST}/team/app:release-1\n"));
    assert_eq!(ecr.pull_digest("team/app", "release-1").as_deref(), Some(digest.as_str()));
}

#[test]
fn immutable_conflicts_fail_before_upload_and_skip_existing_skips() {
    let ecr = Ecr::start();
    let work = scratch_dir("push-immutable");
    let first_digest = single_image_layout(&work.path().join("first"), "first");
    let second_digest = single_image_layout(&work.path().join("second"), "second");
    push(
        &ecr,
        work.path(),
        &["--from", "oci:first", "--create-repository", "--tag-mutability", "IMMUTABLE", "--tag", "v1"],
    )
    .success();

    // Same tag, another image: refused before anything is uploaded.
    let conflict = push(&ecr, work.path(), &["--from", "oci:second", "--tag", "v1", "--tag", "extra"]);
    let conflict = conflict.fails_with(1, "tag 'v1' already points at");
    assert!(conflict.stderr.contains("nothing was uploaded") && conflict.stderr.contains("--skip-existing"));
    assert_eq!(ecr.pull_digest("team/app", "v1").as_deref(), Some(first_digest.as_str()));
    assert_eq!(ecr.pull_digest("team/app", "extra"), None, "no tag of the refused push exists");
    assert_eq!(ecr.pull_manifest("team/app", &second_digest), None, "the refused image was not uploaded");

    // --skip-existing: v1 stays, the other tag is pushed, with a warning.
    let skipped =
        push(&ecr, work.path(), &["--from", "oci:second", "--tag", "v1", "--tag", "extra", "--skip-existing"])
            .success();
    assert!(skipped.stderr.contains("skipped tag v1"), "{}", skipped.stderr);
    assert_eq!(skipped.stdout, format!("{HOST}/team/app:extra\n"), "the skipped tag is not the image URI");
    assert_eq!(ecr.pull_digest("team/app", "v1").as_deref(), Some(first_digest.as_str()));
    assert_eq!(ecr.pull_digest("team/app", "extra").as_deref(), Some(second_digest.as_str()));

    // When every planned tag would be skipped, nothing names the image: a clear failure, not a silent success.
    let all_skipped = push(&ecr, work.path(), &["--from", "oci:second", "--tag", "v1", "--skip-existing"]);
    all_skipped.fails_with(1, "nothing was pushed to 'team/app'");

    // Re-pushing the first image under v1 is idempotent even though the repository is immutable.
    push(&ecr, work.path(), &["--from", "oci:first", "--tag", "v1"]).success();
}

#[test]
fn multi_arch_index_and_server_side_retag() {
    let ecr = Ecr::start();
    let work = scratch_dir("push-index");
    let mut layout = Layout::new(&work.path().join("oci"));
    let shared = random_layer("shared", 30_000, true);
    let amd = layout.image(&[shared.clone(), random_layer("amd", 20_000, true)], "amd64");
    let arm = layout.image(&[shared, random_layer("arm", 20_000, true)], "arm64");
    let index = layout.index(&[amd, arm]);
    let index_digest = layout.name(index, "latest");

    push(&ecr, work.path(), &["--from", "oci:oci", "--create-repository", "--tag", "v2"]).success();
    assert_eq!(ecr.pull_digest("team/app", "v2").as_deref(), Some(index_digest.as_str()));

    let retag = Ship::new(&["retag", "--repository", "team/app", "v2", "stable", "v2.0"]).against(&ecr).run().success();
    assert_eq!(retag.stdout, format!("{HOST}/team/app:stable\n"));
    for tag in ["stable", "v2.0"] {
        assert_eq!(ecr.pull_digest("team/app", tag).as_deref(), Some(index_digest.as_str()), "retagged {tag}");
    }
    // Idempotent, and by digest too.
    Ship::new(&["retag", "--repository", "team/app", &index_digest, "stable"]).against(&ecr).run().success();
}

fn github_output_digest(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("GITHUB_OUTPUT");
    text.lines().find_map(|l| l.strip_prefix("digest=")).expect("digest output").to_string()
}

/// Engine path (podman's default, docker's with `--transfer engine`): push once through the engine, then the other
/// tags server-side; every tag pulls the same digest.
fn engine_push_round_trip(ecr: &Ecr, engine: &str, engine_env: &[(String, String)], work: &Path, transfer: &[&str]) {
    let github_output = work.join("github_output");
    std::fs::write(&github_output, "").unwrap();
    let run = Ship::new(&["push", "--repository", "team/app", "--sha", SHA, "--branch", "feature/Engines"])
        .args_from(&["--image".into(), "app:1".into(), "--engine".into(), engine.into(), "--create-repository".into()])
        .args_from(&transfer.iter().map(|arg| arg.to_string()).collect::<Vec<_>>())
        .args_from(&[
            "--tag".into(),
            "{branch}".into(),
            "--tag".into(),
            "sha-{sha:7}".into(),
            "--tag".into(),
            "v1".into(),
        ])
        .envs(engine_env.iter().map(|(k, v)| (k, v)))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", github_output.display().to_string())
        .against(ecr)
        .cwd(work)
        .run()
        .success();
    assert_eq!(run.stdout, format!("{HOST}/team/app:feature-engines\n"));
    assert!(!run.stderr.contains("exported app:1"), "pushed by {engine} itself: {}", run.stderr);
    let digest = github_output_digest(&github_output);
    for tag in ["feature-engines", "sha-3f78685", "v1"] {
        assert_eq!(ecr.pull_digest("team/app", tag).as_deref(), Some(digest.as_str()), "{engine}: pull of {tag}");
    }
    assert!(!run.stderr.contains(PASSWORD) && !run.stdout.contains(PASSWORD), "the password leaked");
}

/// A dockerd that resolves the stand-in's hosts and holds the scratch image `app:1` with `content`, a scratch
/// directory and an empty DOCKER_CONFIG in it.
fn docker_with_app_image(ecr: &Ecr, name: &str, content: &[u8]) -> (Dockerd, tempfile::TempDir, PathBuf) {
    let dockerd = Dockerd::start_with_hosts(Some(&ecr.hosts_file));
    let work = scratch_dir(name);
    let docker_config = work.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    dockerd.build_scratch_image("app:1", &[("hello.txt", content)]);
    (dockerd, work, docker_config)
}

#[test]
fn engine_push_with_docker() {
    let ecr = Ecr::start();
    let (dockerd, work, docker_config) = docker_with_app_image(&ecr, "push-docker", b"hello from docker");
    let env = vec![
        ("DOCKER_HOST".to_string(), dockerd.host()),
        ("DOCKER_CONFIG".to_string(), docker_config.display().to_string()),
    ];
    engine_push_round_trip(&ecr, "docker", &env, work.path(), &["--transfer", "engine"]);
    let config = std::fs::read_to_string(docker_config.join("config.json")).unwrap_or_default();
    assert!(!config.contains(HOST), "the login was removed after the push: {config}");
}

/// `--transfer native`: the engine only exports the image; ecr-ship uploads it (gzip, as a docker archive is sent by
/// default) and puts every tag, so the engine never holds a registry credential. Bad values and a `--from` source
/// are exit 2 before anything is contacted.
#[test]
fn an_engine_image_with_transfer_native_is_exported_and_pushed_by_ecr_ship() {
    let ecr = Ecr::start();
    let (dockerd, work, docker_config) = docker_with_app_image(&ecr, "push-transfer-native", b"hello, natively");
    let github_output = work.path().join("github_output");
    std::fs::write(&github_output, "").unwrap();
    let run = Ship::new(&["push", "--repository", "team/native", "--sha", SHA, "--branch", "main"])
        .args_from(&["--image".into(), "app:1".into(), "--engine".into(), "docker".into()])
        .args_from(&["--transfer".into(), "native".into(), "--create-repository".into()])
        .args_from(&["--tag".into(), "v1".into(), "--tag".into(), "sha-{sha:7}".into()])
        .env("DOCKER_HOST", dockerd.host())
        .env("DOCKER_CONFIG", docker_config.display().to_string())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", github_output.display().to_string())
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();
    assert!(
        run.stderr.contains("exported app:1 from docker to push it natively (--transfer native)"),
        "{}",
        run.stderr
    );
    let digest = github_output_digest(&github_output);
    for tag in ["v1", "sha-3f78685"] {
        assert_eq!(ecr.pull_digest("team/native", tag).as_deref(), Some(digest.as_str()), "pull of {tag}");
    }
    let manifest = String::from_utf8(ecr.pull_manifest("team/native", "v1").expect("the manifest")).unwrap();
    assert!(manifest.contains("application/vnd.docker.image.rootfs.diff.tar.gzip"), "gzipped by ecr-ship: {manifest}");
    let config = std::fs::read_to_string(docker_config.join("config.json")).unwrap_or_default();
    assert!(!config.contains(HOST), "the engine was never logged in: {config}");
    assert!(!run.stderr.contains(PASSWORD) && !run.stdout.contains(PASSWORD), "the password leaked");

    single_image_layout(&work.path().join("layout"), "transfer");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    for (source, transfer, expected) in [
        ("--image", "parcel", "invalid --transfer 'parcel': expected auto (the default), engine or native"),
        ("--from", "native", "--transfer native applies to --image"),
    ] {
        let value = if source == "--image" { "app:1" } else { "oci:layout" };
        let bad = Ship::new(&["push", "--repository", "team/native", "--sha", SHA, "--region", "us-east-1"])
            .args_from(&[source.into(), value.into(), "--transfer".into(), transfer.into()])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", endpoint.clone())
            .cwd(work.path())
            .run();
        bad.fails_with(2, expected);
    }
    assert!(matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "nothing was contacted");
}

#[test]
fn engine_push_with_podman() {
    use crate::support::podman::Podman;
    let ecr = Ecr::start();
    let podman = Podman::new(&[HOST]);
    let work = scratch_dir("push-podman");
    podman.build_scratch_image("app:1", &[("hello.txt", b"hello from podman" as &[u8])]);
    let env: Vec<(String, String)> = podman.env().into_iter().collect();
    // podman's own push is its default transfer.
    engine_push_round_trip(&ecr, "podman", &env, work.path(), &[]);
    let auth = std::fs::read_to_string(podman.auth_file()).unwrap_or_default();
    assert!(!auth.contains(HOST), "the login was removed after the push: {auth}");
}

#[test]
fn docker_archive_push_without_a_daemon() {
    use crate::support::images::{layer_tar, write_tar};
    let ecr = Ecr::start();
    let work = scratch_dir("push-archive");
    let layer = layer_tar(&[("app.txt", b"archived".to_vec())]);
    let diff_id = ecr_ship::digest::sha256_digest(&layer);
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]}});
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", ecr_ship::digest::sha256_digest(&config_bytes).trim_start_matches("sha256:"));
    let manifest = serde_json::json!([{"Config": config_name, "RepoTags": ["app:1"], "Layers": ["l1/layer.tar"]}]);
    write_tar(
        &work.path().join("app.tar"),
        &[
            ("manifest.json".to_string(), serde_json::to_vec(&manifest).unwrap()),
            (config_name.clone(), config_bytes),
            ("l1/layer.tar".to_string(), layer),
        ],
        &[],
    );
    let run = push(&ecr, work.path(), &["--from", "docker-archive:app.tar", "--create-repository", "--json"]).success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let digest = json["digest"].as_str().unwrap();
    assert_eq!(json["tags"], serde_json::json!(["sha-3f78685", "main"]));
    for tag in ["sha-3f78685", "main"] {
        assert_eq!(ecr.pull_digest("team/app", tag).as_deref(), Some(digest));
    }
}

#[test]
fn a_failing_codebuild_build_is_not_pushed_unless_forced() {
    let ecr = Ecr::start();
    let work = scratch_dir("push-codebuild");
    single_image_layout(&work.path().join("oci"), "cb");
    let failing_build = |extra: &[&str]| {
        Ship::new(&["push", "--repository", "team/app", "--sha", SHA, "--from", "oci:oci", "--create-repository"])
            .args_from(&extra.iter().map(|a| a.to_string()).collect::<Vec<_>>())
            .env("CODEBUILD_BUILD_ID", "app:1")
            .env("CODEBUILD_BUILD_SUCCEEDING", "0")
            .against(&ecr)
            .cwd(work.path())
            .run()
            .success()
    };
    let skipped = failing_build(&[]);
    assert!(skipped.stdout.is_empty() && skipped.stderr.contains("not pushing"), "{}", skipped.stderr);
    assert_eq!(ecr.pull_digest("team/app", "sha-3f78685"), None);
    failing_build(&["--force"]);
    assert!(ecr.pull_digest("team/app", "sha-3f78685").is_some());
}

/// The registry's certificate is trusted only through the standard SSL_CERT_FILE, never through a product switch.
#[test]
fn tls_to_the_registry_is_verified() {
    let ecr = Ecr::start();
    let work = scratch_dir("push-tls");
    single_image_layout(&work.path().join("oci"), "tls");
    let untrusted =
        Ship::new(&["push", "--repository", "team/app", "--sha", SHA, "--from", "oci:oci", "--create-repository"])
            .against(&ecr)
            .without("SSL_CERT_FILE")
            .cwd(work.path())
            .run();
    let untrusted = untrusted.fails_with(1, "certificate");
    assert!(
        untrusted.stderr.contains("SSL_CERT_FILE"),
        "the error says how to trust a private CA: {}",
        untrusted.stderr
    );
    assert_eq!(ecr.pull_digest("team/app", "sha-3f78685"), None);
}

/// `--annotate` writes metadata-action's annotations into the pushed OCI manifest: the digest changes (and the log
/// says so), the config descriptor stays bare (ECR refuses annotations there), and a Docker schema 2 image or an
/// engine push is refused before anything is sent.
#[test]
fn annotate_writes_the_annotations_into_the_pushed_manifest() {
    let ecr = Ecr::start();
    let work = scratch_dir("push-annotate");
    let source_digest = single_image_layout(&work.path().join("oci"), "annotate");
    let pushed = push(
        &ecr,
        work.path(),
        &["--from", "oci:oci", "--create-repository", "--annotate", "--annotation", "team=platform"],
    )
    .success();
    assert!(pushed.stderr.contains(&format!("not the source's {source_digest}")), "{}", pushed.stderr);
    let manifest = ecr.pull_manifest("team/app", "sha-3f78685").expect("pull the annotated manifest");
    let document: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(document["annotations"]["team"], "platform");
    assert_eq!(document["annotations"]["org.opencontainers.image.revision"], SHA);
    assert_eq!(document["annotations"]["org.opencontainers.image.version"], "sha-3f78685");
    assert!(document["config"].get("annotations").is_none(), "nothing on the config descriptor");
    let pulled = ecr.pull_digest("team/app", "sha-3f78685").unwrap();
    assert_ne!(pulled, source_digest, "the annotated manifest has its own digest");
    assert!(pushed.stdout.contains("team/app:sha-3f78685"), "{}", pushed.stdout);

    let with_engine = push(&ecr, work.path(), &["--image", "app:latest", "--annotate"]);
    assert_eq!(with_engine.code, 2, "{}", with_engine.stderr);
    assert!(with_engine.stderr.contains("--annotate"), "{}", with_engine.stderr);
}

/// Manifests ECR refuses with 405 after every blob went up (config annotations, `platform.features`, media types
/// with parameters) are refused up front: exit 2 (nothing contacted), naming the manifest's field.
#[test]
fn manifests_ecr_would_refuse_are_refused_before_any_upload() {
    use serde_json::{Value, json};
    let ecr = Ecr::start();
    let work = scratch_dir("push-preflight");
    let rewrite = |layout: &mut Layout, descriptor: &Value, change: &dyn Fn(&mut Value)| -> Value {
        let path = layout.blob_path(descriptor["digest"].as_str().unwrap());
        let mut manifest: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        change(&mut manifest);
        let (digest, size) = layout.blob(&serde_json::to_vec(&manifest).unwrap());
        json!({"mediaType": descriptor["mediaType"], "digest": digest, "size": size})
    };
    type MakeTop = Box<dyn Fn(&mut Layout, Value) -> Value>;
    let cases: [(&str, &str, MakeTop); 3] = [
        (
            "config-annotations",
            "config.annotations is set",
            Box::new(move |layout, image| {
                rewrite(layout, &image, &|m| {
                    m["config"]["annotations"] = json!({"containerd.io/snapshot/nydus-bootstrap": "true"})
                })
            }),
        ),
        (
            "layer-parameters",
            "layers[0].mediaType 'application/vnd.oci.image.layer.v1.tar+gzip;zstd=no' has parameters",
            Box::new(move |layout, image| {
                rewrite(layout, &image, &|m| {
                    m["layers"][0]["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip;zstd=no")
                })
            }),
        ),
        (
            "platform-features",
            "manifests[0].platform.features is set",
            Box::new(|layout, mut image| {
                image["platform"]["features"] = json!(["sse4"]);
                layout.index(&[image])
            }),
        ),
    ];
    for (name, field, make) in cases {
        let dir = work.path().join(name);
        let mut layout = Layout::new(&dir);
        let image = layout.image(&[random_layer(name, 5_000, true)], "amd64");
        let top = make(&mut layout, image);
        layout.name(top, "latest");
        let repository = format!("team/{name}");
        let run =
            Ship::new(&["push", "--repository", &repository, "--sha", SHA, "--branch", "main", "--create-repository"])
                .args_from(&["--from".into(), format!("oci:{}", dir.display())])
                .against(&ecr)
                .cwd(work.path())
                .run();
        assert_eq!(run.code, 2, "{name}: refused as bad input, before anything was contacted: {}", run.stderr);
        assert!(run.stderr.contains(field), "{name}: {}", run.stderr);
        assert!(run.stderr.contains("Nothing was uploaded"), "{name}: {}", run.stderr);
        assert!(!ecr.repositories().contains(&repository), "{name}: nothing reached ECR, not even the create");
    }
}
