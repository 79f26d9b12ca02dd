//! docker-archive layers compressed on the way (`--compression gzip|zstd|none`), through the real binary against
//! the local ECR: the pulled manifest's media types, every pulled layer decompressing to its diff_id, layers that
//! were already gzip kept byte for byte, re-pushes that upload nothing (same bytes, same digest), OCI layouts left
//! alone, a real docker pulling and running the gzip image, bad values refused before anything is sent, and the
//! temporary files gone however the push ends (also when SIGTERM stops it mid-compression).

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ecr_ship::media_type::{
    DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_ZSTD,
    OCI_MANIFEST,
};
use serde_json::Value;

use crate::support::ecr::{Ecr, HOST};
use crate::support::images::{SHA, single_image_layout};
use crate::support::images::{classic_archive, digest_of, gzip, random_bytes, text_layer};
use crate::support::{Run, Ship, SilentServer, moto::PASSWORD, scratch_dir};

/// A classic `docker save` archive in a scratch dir: two uncompressed layers, one layer already gzip (as other
/// tools write), and the first layer repeated (stored once, linked), plus an empty TMPDIR for the binary.
struct Archive {
    dir: tempfile::TempDir,
    config: Vec<u8>,
    diff_ids: Vec<String>,
    /// The blob of the layer that was gzip in the archive.
    gzipped: Vec<u8>,
}

impl Archive {
    fn new(name: &str) -> Archive {
        let dir = scratch_dir(name);
        let (a, b, c) = (text_layer("a.txt", 1_500_000), text_layer("b.txt", 300_000), text_layer("c.txt", 200_000));
        let gzipped = gzip(&c);
        let diff_ids = vec![digest_of(&a), digest_of(&b), digest_of(&c), digest_of(&a)];
        let layers = [a.clone(), b, gzipped.clone(), a];
        let config = classic_archive(&dir.path().join("app.tar"), "app:1", &layers, &diff_ids);
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        Archive { dir, config, diff_ids, gzipped }
    }

    fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    fn push(&self, ecr: &Ecr, repository: &str, extra: &[&str]) -> Run {
        Ship::new(&["push", "--repository", repository, "--sha", SHA, "--branch", "main", "--create-repository"])
            .args_from(&["--from".into(), "docker-archive:app.tar".into(), "--json".into()])
            .args_from(&extra.iter().map(|a| a.to_string()).collect::<Vec<_>>())
            .env("TMPDIR", self.tmp().display().to_string())
            .against(ecr)
            .cwd(self.dir.path())
            .run()
    }

    /// No temporary file outlives the push.
    #[track_caller]
    fn assert_no_temporary_files(&self) {
        let left: Vec<_> = std::fs::read_dir(self.tmp()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "temporary files left behind: {left:?}");
    }
}

fn pushed_digest(run: &Run) -> String {
    let json: Value = serde_json::from_str(&run.stdout).expect("--json result");
    json["digest"].as_str().expect("digest").to_string()
}

/// Pulls `repository:tag` with skopeo into an image directory (`dir:`): the manifest and every blob as stored,
/// each checked against its digest by skopeo.
fn pull_into(ecr: &Ecr, repository: &str, tag: &str, into: &Path) -> Value {
    let output = ecr
        .wrap("skopeo")
        .args(["--insecure-policy", "copy", "-q", "--src-creds", &format!("AWS:{PASSWORD}"), "--src-cert-dir"])
        .arg(ecr.ca().parent().expect("ca dir"))
        .arg(format!("docker://{HOST}/{repository}:{tag}"))
        .arg(format!("dir:{}", into.display()))
        .output()
        .expect("skopeo copy");
    assert!(output.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&std::fs::read(into.join("manifest.json")).unwrap()).expect("manifest JSON")
}

fn blob(dir: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(dir.join(digest.trim_start_matches("sha256:"))).expect("pulled blob")
}

fn uncompressed(media_type: &str, bytes: &[u8]) -> Vec<u8> {
    if media_type.ends_with("gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("gunzip a pulled layer");
        out
    } else if media_type.ends_with("zstd") {
        zstd::stream::decode_all(bytes).expect("unzstd a pulled layer")
    } else {
        bytes.to_vec()
    }
}

fn strings(value: &Value, pointer: &str) -> Vec<String> {
    value["layers"].as_array().unwrap().iter().map(|l| l[pointer].as_str().unwrap().to_string()).collect()
}

/// One `--compression` setting and what the pushed image must look like.
struct Case {
    flags: &'static [&'static str],
    repository: &'static str,
    manifest_type: &'static str,
    config_type: &'static str,
    /// For the archive's layers in order: uncompressed, uncompressed, gzip, the first one again.
    layer_types: [&'static str; 4],
    /// What the log says about compression, if anything.
    logged: Option<&'static str>,
}

#[cfg(feature = "stand-ins")]
#[test]
fn docker_archive_layers_are_compressed_as_asked_and_re_pushes_upload_nothing() {
    let ecr = Ecr::start();
    let archive = Archive::new("compress");
    let unchanged =
        ecr_ship::oci::ImageSource::parse(&format!("docker-archive:{}", archive.dir.path().join("app.tar").display()))
            .expect("parse")
            .plan()
            .expect("plan as it is");
    for Case { flags, repository, manifest_type, config_type, layer_types, logged } in [
        Case {
            flags: &[],
            repository: "team/gzip",
            manifest_type: DOCKER_MANIFEST,
            config_type: DOCKER_CONFIG,
            layer_types: [DOCKER_LAYER_GZIP; 4],
            logged: Some("compressed 2 uncompressed layers with gzip"),
        },
        Case {
            flags: &["--compression", "zstd"],
            repository: "team/zstd",
            manifest_type: OCI_MANIFEST,
            config_type: OCI_CONFIG,
            layer_types: [OCI_LAYER_ZSTD, OCI_LAYER_ZSTD, OCI_LAYER_GZIP, OCI_LAYER_ZSTD],
            logged: Some("compressed 2 uncompressed layers with zstd"),
        },
        Case {
            flags: &["--compression", "none"],
            repository: "team/none",
            manifest_type: DOCKER_MANIFEST,
            config_type: DOCKER_CONFIG,
            layer_types: [DOCKER_LAYER, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_LAYER],
            logged: None,
        },
    ] {
        let first = archive.push(&ecr, repository, flags).success();
        archive.assert_no_temporary_files();
        let digest = pushed_digest(&first);
        match logged {
            Some(line) => assert!(first.stderr.contains(line), "{repository}: {}", first.stderr),
            None => assert!(!first.stderr.contains("compressed"), "{repository}: {}", first.stderr),
        }
        if flags.contains(&"none") {
            assert_eq!(digest, unchanged.summary().digest, "--compression none pushes the archive as before");
        }

        let raw = ecr.pull_manifest(repository, "sha-3f78685").expect("pull the manifest");
        assert_eq!(ecr_ship::digest::sha256_digest(&raw), digest);
        let manifest: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(manifest["mediaType"], manifest_type, "{repository}");
        assert_eq!(manifest["config"]["mediaType"], config_type, "{repository}");
        assert_eq!(manifest["config"]["digest"], digest_of(&archive.config), "{repository}: the config is unchanged");
        assert_eq!(strings(&manifest, "mediaType"), layer_types, "{repository}");
        let digests = strings(&manifest, "digest");
        assert_eq!(digests[2], digest_of(&archive.gzipped), "{repository}: a gzip layer is kept byte for byte");
        assert_eq!(digests[0], digests[3], "{repository}: the repeated layer is one blob");
        if flags.contains(&"none") {
            assert_eq!(digests[..2], archive.diff_ids[..2], "uncompressed layers are their diff_ids");
        } else {
            assert_ne!(digests[0], archive.diff_ids[0], "{repository}: the layer was compressed");
        }

        // Every layer as pulled decompresses to exactly the bytes the config's diff_id names.
        let pulled = scratch_dir("compress-pull");
        let copied = pull_into(&ecr, repository, "sha-3f78685", pulled.path());
        assert_eq!(blob(pulled.path(), &digest_of(&archive.config)), archive.config);
        for (position, (digest, media_type)) in digests.iter().zip(strings(&copied, "mediaType")).enumerate() {
            let bytes = uncompressed(&media_type, &blob(pulled.path(), digest));
            assert_eq!(digest_of(&bytes), archive.diff_ids[position], "{repository}: layer {position}");
        }

        // The same job again: compressed again to the same bytes, so every blob is found and nothing is uploaded.
        let again = archive.push(&ecr, repository, flags).success();
        archive.assert_no_temporary_files();
        assert_eq!(pushed_digest(&again), digest, "{repository}: the same digest on every run");
        assert!(
            again.stderr.contains("nothing to upload") || again.stderr.contains(": 0 blobs uploaded (0 bytes)"),
            "{repository}: {}",
            again.stderr
        );
    }

    // An OCI layout is pushed unchanged whatever --compression says (its uncompressed layer included).
    let work = scratch_dir("compress-oci");
    let layout_digest = single_image_layout(&work.path().join("oci"), "compress");
    let run = Ship::new(&["push", "--repository", "team/layout", "--sha", SHA, "--from", "oci:oci"])
        .args_from(&["--create-repository".into(), "--compression".into(), "zstd".into()])
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();
    assert!(!run.stderr.contains("compressed"), "{}", run.stderr);
    assert_eq!(ecr.pull_digest("team/layout", "sha-3f78685").as_deref(), Some(layout_digest.as_str()));
}

/// A real docker and a real podman pull and run the gzip image that the default `push --image` made from docker
/// (exported by docker, pushed natively; the same manifest as `--from` its `docker save` archive): a static binary
/// built here with musl-gcc, so nothing comes from the internet. The image id (the config digest) survives. The zstd
/// image runs under podman too (dockerd 20.10 cannot unpack zstd layers).
#[cfg(feature = "stand-ins")]
#[test]
fn docker_pulls_and_runs_the_image_pushed_from_its_own_docker_save() {
    use crate::support::dockerd::{Dockerd, write_scratch_context};
    let ecr = Ecr::start();
    let dockerd = Dockerd::start_with_hosts(Some(&ecr.hosts_file));
    let work = scratch_dir("compress-run");
    let config = work.path().join("docker-config");
    std::fs::create_dir_all(work.path().join("tmp")).unwrap();
    let docker = |args: &[&str]| {
        let output = dockerd.docker(&config, args);
        assert!(output.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };

    let source = work.path().join("hello.c");
    std::fs::write(&source, "#include <unistd.h>\nint main(void) { write(1, \"hello from ECR\\n\", 15); return 0; }\n")
        .unwrap();
    let binary = work.path().join("hello");
    let built = Command::new("musl-gcc").args(["-static", "-Os", "-o"]).arg(&binary).arg(&source).status();
    assert!(built.is_ok_and(|s| s.success()), "musl-gcc (musl-tools, scripts/install-test-deps) builds the binary");
    let notes = text_layer("notes.txt", 200_000);
    let context = write_scratch_context(
        dockerd.dir.path(),
        "app:run",
        &[("hello", &std::fs::read(&binary).unwrap()), ("notes.tar", &notes)],
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(context.join("hello"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut containerfile = std::fs::read_to_string(context.join("Containerfile")).unwrap();
    containerfile.push_str("CMD [\"/hello\"]\n");
    std::fs::write(context.join("Containerfile"), containerfile).unwrap();
    let build = Command::new("docker")
        .args(["build", "-q", "-t", "app:run", "-f"])
        .arg(context.join("Containerfile"))
        .arg(&context)
        .env_clear()
        .envs(dockerd.env(&config))
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("docker build");
    assert!(build.status.success(), "docker build: {}", String::from_utf8_lossy(&build.stderr));
    let image_id = docker(&["image", "inspect", "--format", "{{.Id}}", "app:run"]);
    let archive = work.path().join("app.tar");
    docker(&["save", "-o", &archive.display().to_string(), "app:run"]);

    // The default push of a docker image is this same path: docker exports it, ecr-ship compresses and uploads it,
    // and docker is never logged in. Both ways give the same manifest, byte for byte.
    let run = Ship::new(&["push", "--repository", "team/run", "--sha", SHA, "--tag", "v1", "--create-repository"])
        .args_from(&["--image".into(), "app:run".into()])
        .envs(dockerd.env(&config).iter())
        .env("TMPDIR", work.path().join("tmp").display().to_string())
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();
    assert!(run.stderr.contains("to push it natively (docker's default; --transfer engine"), "{}", run.stderr);
    assert!(run.stderr.contains("with gzip"), "{}", run.stderr);
    assert!(!std::fs::read_to_string(config.join("config.json")).unwrap_or_default().contains(HOST), "no login");
    let manifest: Value = serde_json::from_slice(&ecr.pull_manifest("team/run", "v1").unwrap()).unwrap();
    assert!(strings(&manifest, "mediaType").iter().all(|t| t == DOCKER_LAYER_GZIP), "{manifest}");
    assert_eq!(std::fs::read_dir(work.path().join("tmp")).unwrap().count(), 0, "no export or layer copy is left");
    Ship::new(&["push", "--repository", "team/run-archive", "--sha", SHA, "--tag", "v1", "--create-repository"])
        .args_from(&["--from".into(), "docker-archive:app.tar:app:run".into()])
        .env("TMPDIR", work.path().join("tmp").display().to_string())
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();
    assert_eq!(ecr.pull_digest("team/run-archive", "v1"), ecr.pull_digest("team/run", "v1"), "one image both ways");

    // Forget the local image, log in as a user would, pull from the registry and run it.
    docker(&["rmi", "app:run"]);
    let mut login = Command::new("docker")
        .args(["login", "-u", "AWS", "--password-stdin", HOST])
        .env_clear()
        .envs(dockerd.env(&config))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker login");
    use std::io::Write as _;
    login.stdin.take().unwrap().write_all(PASSWORD.as_bytes()).unwrap();
    let login = login.wait_with_output().unwrap();
    assert!(login.status.success(), "docker login: {}", String::from_utf8_lossy(&login.stderr));
    let remote = format!("{HOST}/team/run:v1");
    docker(&["pull", "-q", &remote]);
    assert_eq!(docker(&["image", "inspect", "--format", "{{.Id}}", &remote]), image_id, "the config is unchanged");
    assert_eq!(docker(&["run", "--rm", "--network", "none", &remote]), "hello from ECR");

    // zstd needs a puller that reads it (dockerd 20.10 does not: "failed to register layer: … invalid tar header");
    // podman does, and runs it.
    Ship::new(&["push", "--repository", "team/run-zstd", "--sha", SHA, "--tag", "v1", "--create-repository"])
        .args_from(&["--from".into(), "docker-archive:app.tar:app:run".into(), "--compression".into(), "zstd".into()])
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();
    let podman = crate::support::podman::Podman::new(&[]);
    std::fs::write(podman.auth_file(), r#"{"auths":{}}"#).unwrap();
    let remote = format!("{HOST}/team/run-zstd:v1");
    let podman_run = |args: &[&str]| {
        let output = ecr
            .wrap("podman")
            .args(args)
            .env_clear()
            .envs(podman.env())
            .stdin(Stdio::null())
            .output()
            .expect("run podman");
        assert!(output.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let creds = format!("AWS:{PASSWORD}");
    let certs = format!("--cert-dir={}", ecr.ca().parent().unwrap().display());
    // podman pulls and runs both: the zstd image and the gzip one docker's default push made.
    for remote in [remote, format!("{HOST}/team/run:v1")] {
        podman_run(&["pull", "-q", "--creds", &creds, &certs, &remote]);
        assert_eq!(
            podman_run(&["image", "inspect", "--format", "{{.Id}}", &remote]),
            image_id.trim_start_matches("sha256:")
        );
        // Rlimits below the machine's hard limits: podman's defaults exceed those of some CI sandboxes.
        assert_eq!(
            podman_run(&[
                "run",
                "--rm",
                "--network",
                "none",
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
                &remote
            ]),
            "hello from ECR"
        );
        podman_run(&["rmi", &remote]);
    }
}

/// A bad value, from the flag, the environment or the file: exit 2 with one line naming it and the allowed ones,
/// and not one connection to the endpoints (nor a temporary file).
#[test]
fn a_bad_compression_is_exit_2_and_sends_nothing() {
    let work = scratch_dir("compress-bad");
    let layer = text_layer("a.txt", 10_000);
    classic_archive(&work.path().join("app.tar"), "app:1", std::slice::from_ref(&layer), &[digest_of(&layer)]);
    std::fs::create_dir_all(work.path().join("tmp")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    for (value, flag, env, file) in
        [("xz", Some("xz"), None, ""), ("Brotli", None, Some("Brotli"), ""), ("lz4", None, None, "compression: lz4\n")]
    {
        std::fs::write(work.path().join(".ecr-ship.yml"), file).unwrap();
        let mut ship = Ship::new(&["push", "--repository", "team/app", "--sha", SHA, "--region", "us-east-1"])
            .args_from(&["--from".into(), "docker-archive:app.tar".into(), "--create-repository".into()])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", endpoint.clone())
            .env("TMPDIR", work.path().join("tmp").display().to_string())
            .cwd(work.path());
        if let Some(flag) = flag {
            ship = ship.args_from(&["--compression".into(), flag.into()]);
        }
        if let Some(env) = env {
            ship = ship.env("ECR_SHIP_COMPRESSION", env);
        }
        let run = ship.run();
        assert_eq!(run.code, 2, "{value}: {}", run.stderr);
        assert_eq!(
            run.stderr,
            format!("ecr-ship: error: unknown --compression '{value}': use gzip, zstd or none\n"),
            "{value}"
        );
    }
    assert!(matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "nothing was contacted");
    assert_eq!(std::fs::read_dir(work.path().join("tmp")).unwrap().count(), 0);
}

/// SIGTERM while the layers are being compressed: the push stops (exit 1, saying so) and its temporary files are
/// gone. The AWS endpoint never answers, so wherever the signal lands (still compressing, or already waiting for
/// AWS), the outcome is the same.
#[test]
fn a_push_stopped_while_compressing_leaves_no_temporary_file() {
    let work = scratch_dir("compress-stop");
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let layers: Vec<Vec<u8>> = (0..2)
        .map(|i| crate::support::images::layer_tar(&[(&format!("big-{i}.bin"), random_bytes(24 << 20))]))
        .collect();
    let diff_ids: Vec<String> = layers.iter().map(|l| digest_of(l)).collect();
    classic_archive(&work.path().join("app.tar"), "app:1", &layers, &diff_ids);
    drop(layers);
    let silent = SilentServer::start();
    let child = Ship::new(&["push", "--repository", "team/app", "--sha", SHA, "--region", "us-east-1"])
        .args_from(&["--from".into(), "docker-archive:app.tar".into()])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", silent.port))
        .env("TMPDIR", tmp.display().to_string())
        .cwd(work.path())
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ecr-ship");
    let started = Instant::now();
    while std::fs::read_dir(&tmp).unwrap().count() == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "compression never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}
