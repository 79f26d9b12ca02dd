//! The native push (`ecr_ship::oci`) against Debian's real docker-registry: OCI layouts, docker archives (classic
//! and OCI-embedding), multi-arch indexes, re-push skipping, corrupt blobs, a fault-injecting TCP proxy between
//! client and registry (TLS trust is shown through the binary in tests/it/push.rs, peak memory in bench/). Images
//! are generated here (random tar and gzip layers, digests computed in Rust); every pushed tag is read back over HTTP and with
//! skopeo, and both must agree with the digest the push reported.

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecr_ship::media_type::MANIFEST_MEDIA_TYPES;
use ecr_ship::oci::{
    self, Compression, Credentials, CredentialsFuture, ImageSource, Progress, PushOptions, PushedImage, Registry,
    RegistryAuth, RetryPolicy, Stop,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::moto::PASSWORD;
use crate::support::registry::Registry as TestRegistry;
use crate::support::scratch_dir;

use crate::support::images::*;

// ---------------------------------------------------------------------------------------------------------------
// Image fixtures
// ---------------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------------
// Registry access for the tests
// ---------------------------------------------------------------------------------------------------------------

/// Counts credential requests, to prove an expired token costs exactly one refresh.
#[derive(Default)]
struct CountingAuth {
    initial: AtomicUsize,
    refreshes: AtomicUsize,
}

impl RegistryAuth for CountingAuth {
    fn credentials(&self, refresh: bool) -> CredentialsFuture<'_> {
        let counter = if refresh { &self.refreshes } else { &self.initial };
        counter.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(Credentials { username: "AWS".into(), password: PASSWORD.into() }) })
    }
}

fn target_registry(base_url: &str, repository: &str) -> (Registry, Arc<CountingAuth>) {
    let auth = Arc::new(CountingAuth::default());
    let registry = Registry::new(base_url, repository, auth.clone()).expect("registry");
    (registry, auth)
}

fn quiet() -> PushOptions {
    PushOptions { progress: Progress::Quiet, timeout: Some(Duration::from_secs(120)), ..PushOptions::default() }
}

fn tags(names: &[&str]) -> Vec<String> {
    names.iter().map(|t| t.to_string()).collect()
}

/// GET a manifest the way a puller does; returns status, Content-Type and body.
async fn get_manifest(base_url: &str, repository: &str, reference: &str) -> (u16, String, Vec<u8>) {
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{base_url}/v2/{repository}/manifests/{reference}"))
        .basic_auth("AWS", Some(PASSWORD))
        .header("Accept", MANIFEST_MEDIA_TYPES.join(", "))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("GET manifest");
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body = response.bytes().await.expect("manifest body").to_vec();
    (status, content_type, body)
}

/// The raw manifest skopeo reads for `repository:tag`.
fn skopeo_raw(host: &str, repository: &str, tag: &str) -> Vec<u8> {
    let output = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds", &format!("AWS:{PASSWORD}")])
        .arg(format!("docker://{host}/{repository}:{tag}"))
        .output()
        .expect("run skopeo (Debian package skopeo)");
    assert!(output.status.success(), "skopeo inspect: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// Every tag must read back, over HTTP and through skopeo, as exactly the manifest the push reported.
async fn assert_tags_serve(registry: &TestRegistry, repository: &str, tags: &[&str], pushed: &PushedImage) {
    let base = format!("http://{}", registry.host());
    for tag in tags {
        let (status, content_type, body) = get_manifest(&base, repository, tag).await;
        assert_eq!(status, 200, "GET {repository}:{tag}");
        assert_eq!(content_type, pushed.media_type, "{repository}:{tag} media type");
        assert_eq!(digest_of(&body), pushed.digest, "{repository}:{tag} over HTTP");
        assert_eq!(body, pushed.manifest);
        let raw = skopeo_raw(&registry.host(), repository, tag);
        assert_eq!(digest_of(&raw), pushed.digest, "{repository}:{tag} through skopeo");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Pushes against the plain-HTTP registry
// ---------------------------------------------------------------------------------------------------------------

#[cfg(feature = "stand-ins")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_layout_pushes_with_two_tags_and_a_second_push_uploads_nothing() {
    let registry = TestRegistry::start();
    let scratch = scratch_dir("oci-layout");
    let mut layout = Layout::new(scratch.path());
    let layers = [
        random_layer("a.bin", 3_000_000, true),
        random_layer("b.bin", 500_000, false),
        random_layer("c.bin", 10_000, true),
    ];
    let manifest_digest = layout.name(layout.image(&layers, "amd64"), "v1");
    // A second image in the same layout: selecting by REF must pick the right one.
    layout.name(layout.image(&[random_layer("other.bin", 1000, true)], "amd64"), "other");

    let (target, auth) = target_registry(&format!("http://{}", registry.host()), "team/app");
    let source = ImageSource::parse(&format!("oci:{}:v1", scratch.path().display())).expect("parse source");
    let pushed = oci::push(&source.plan().expect("plan"), &target, &tags(&["v1", "latest"]), &quiet())
        .await
        .expect("first push");
    assert_eq!(pushed.digest, manifest_digest, "the layout's manifest is pushed byte for byte");
    assert_eq!(pushed.media_type, OCI_MANIFEST);
    assert_eq!((pushed.blobs_uploaded, pushed.blobs_skipped), (4, 0), "3 layers + config");
    let layer_bytes: u64 = layers.iter().map(|l| l.blob.len() as u64).sum();
    assert!(pushed.bytes_uploaded > layer_bytes, "layers and config were sent");
    assert_tags_serve(&registry, "team/app", &["v1", "latest"], &pushed).await;
    assert_eq!(auth.refreshes.load(Ordering::SeqCst), 0);

    let again = oci::push(&source.plan().expect("plan"), &target, &tags(&["v1"]), &quiet()).await.expect("second push");
    assert_eq!(again.digest, pushed.digest);
    assert_eq!((again.blobs_uploaded, again.blobs_skipped, again.bytes_uploaded), (0, 4, 0));

    // Several images and no REF is an input error that lists the refs.
    let ambiguous = layout.source(None).plan().unwrap_err();
    assert_eq!(ecr_ship::error::exit_code(&ambiguous), ecr_ship::error::EXIT_BAD_INPUT);
    assert!(ambiguous.to_string().contains("v1, other"), "{ambiguous}");
}

#[cfg(feature = "stand-ins")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_archive_pushes_as_docker_v2_schema_2_with_layer_digests_equal_to_diff_ids() {
    let registry = TestRegistry::start();
    let scratch = scratch_dir("docker-archive");
    let layer_a = layer_tar(&[("a.bin", random_bytes(2_000_000))]);
    let layer_b = layer_tar(&[("b.bin", random_bytes(300_000))]);
    let diff_ids = [digest_of(&layer_a), digest_of(&layer_b), digest_of(&layer_a)];
    let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}}))
    .unwrap();
    let config_hex = hex(&Sha256::digest(&config));
    let manifest = json!([{"Config": format!("{config_hex}.json"), "RepoTags": ["team/app:v1"],
        "Layers": ["1111/layer.tar", "2222/layer.tar", "3333/layer.tar"]}]);
    let archive = scratch.path().join("image.tar");
    write_tar(
        &archive,
        &[
            ("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()),
            (format!("{config_hex}.json"), config.clone()),
            ("1111/VERSION".into(), b"1.0".to_vec()),
            ("1111/layer.tar".into(), layer_a.clone()),
            ("2222/layer.tar".into(), layer_b.clone()),
            ("repositories".into(), br#"{"team/app":{"v1":"3333"}}"#.to_vec()),
        ],
        // docker save stores a repeated layer once and links the others to it.
        &[("3333/layer.tar".into(), "../1111/layer.tar".into())],
    );

    let (target, _) = target_registry(&format!("http://{}", registry.host()), "team/archive");
    let source = ImageSource::parse(&format!("docker-archive:{}", archive.display())).expect("parse");
    let plan = source.plan().expect("plan");
    // The push follows the plan it is given and never reads the source again: with manifest.json now garbage of
    // the same length (every blob keeps its offset), a fresh plan fails but the kept one still pushes.
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let mut tar_bytes = std::fs::read(&archive).unwrap();
    let at =
        tar_bytes.windows(manifest_bytes.len()).position(|w| w == manifest_bytes).expect("manifest.json in the tar");
    tar_bytes[at..at + manifest_bytes.len()].fill(b'x');
    std::fs::write(&archive, &tar_bytes).unwrap();
    assert!(source.plan().is_err(), "manifest.json is no longer JSON");
    let options = PushOptions { progress: Progress::Lines, ..quiet() };
    let pushed = oci::push(&plan, &target, &tags(&["v1"]), &options).await.expect("push archive");
    assert_eq!(pushed.media_type, DOCKER_MANIFEST);
    assert_eq!((pushed.blobs_uploaded, pushed.blobs_skipped), (3, 0), "config + 2 distinct layers");
    let doc: Value = serde_json::from_slice(&pushed.manifest).unwrap();
    assert_eq!(doc["config"]["digest"], format!("sha256:{config_hex}"));
    assert_eq!(doc["config"]["mediaType"], "application/vnd.docker.container.image.v1+json");
    let layer_digests: Vec<&str> =
        doc["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap()).collect();
    assert_eq!(layer_digests, diff_ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        doc["layers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar")
    );
    assert_tags_serve(&registry, "team/archive", &["v1"], &pushed).await;

    // The plan's summary named the pushed manifest before any network access.
    assert_eq!(plan.summary().digest, pushed.digest);
    assert_eq!(plan.summary().manifest, pushed.manifest);
}

/// An archive packed the way docker 25+ saves: the image as an OCI layout (blobs/, index.json, oci-layout) and
/// manifest.json pointing into blobs/. Returns the archive and the embedded manifest's digest.
fn embedded_layout_archive(dir: &std::path::Path, compressed_layers: bool) -> (std::path::PathBuf, String) {
    let layout_dir = dir.join("layout");
    let mut layout = Layout::new(&layout_dir);
    let layers = [random_layer("x.bin", 700_000, compressed_layers), random_layer("y.bin", 90_000, compressed_layers)];
    let descriptor = layout.image(&layers, "amd64");
    let manifest_digest = layout.name(descriptor, "team/app:v2");
    let manifest_bytes = std::fs::read(layout.blob_path(&manifest_digest)).unwrap();
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let blob_name = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let config_name = blob_name(manifest["config"]["digest"].as_str().unwrap());
    let layer_names: Vec<String> =
        manifest["layers"].as_array().unwrap().iter().map(|l| blob_name(l["digest"].as_str().unwrap())).collect();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in std::fs::read_dir(layout_dir.join("blobs/sha256")).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("blobs/sha256/{}", path.file_name().unwrap().to_string_lossy());
        files.push((name, std::fs::read(&path).unwrap()));
    }
    files.push(("index.json".into(), std::fs::read(layout_dir.join("index.json")).unwrap()));
    files.push(("oci-layout".into(), std::fs::read(layout_dir.join("oci-layout")).unwrap()));
    let docker_manifest = json!([{"Config": config_name, "RepoTags": ["team/app:v2", "team/app:other"],
                                 "Layers": layer_names}]);
    files.push(("manifest.json".into(), serde_json::to_vec(&docker_manifest).unwrap()));
    let archive = dir.join("image.tar");
    write_tar(&archive, &files, &[]);
    (archive, manifest_digest)
}

#[cfg(feature = "stand-ins")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_archive_with_an_embedded_oci_layout_pushes_dockers_own_manifest() {
    let registry = TestRegistry::start();
    let scratch = scratch_dir("docker-archive-oci");
    let (archive, manifest_digest) = embedded_layout_archive(scratch.path(), false);

    let (target, _) = target_registry(&format!("http://{}", registry.host()), "team/embedded");
    let source = ImageSource::parse(&format!("docker-archive:{}:team/app:v2", archive.display())).expect("parse");
    let pushed = oci::push(&source.plan().expect("plan"), &target, &tags(&["v2"]), &quiet()).await.expect("push");
    assert_eq!(pushed.digest, manifest_digest, "the embedded manifest is pushed unchanged");
    assert_eq!(pushed.media_type, OCI_MANIFEST);
    assert_tags_serve(&registry, "team/embedded", &["v2"], &pushed).await;

    let unknown = ImageSource::parse(&format!("docker-archive:{}:nope", archive.display())).unwrap();
    let error = unknown.plan().unwrap_err().to_string();
    assert!(error.contains("team/app:v2, team/app:other"), "{error}");

    // With compression (the command's default), uncompressed layers make a manifest of ecr-ship's own: schema 2
    // with gzip layers, the same config. It pushes and serves like any other.
    let gzipped = source.plan_with(Compression::Gzip, &Stop::default()).expect("plan with gzip");
    assert_eq!(gzipped.summary().media_type, DOCKER_MANIFEST);
    assert_ne!(gzipped.summary().digest, manifest_digest);
    let done = gzipped.compressed().expect("layers were compressed");
    assert_eq!((done.format, done.layers), ("gzip", 2));
    let (target, _) = target_registry(&format!("http://{}", registry.host()), "team/embedded-gzip");
    let pushed = oci::push(&gzipped, &target, &tags(&["v2"]), &quiet()).await.expect("push gzip");
    let doc: Value = serde_json::from_slice(&pushed.manifest).unwrap();
    assert!(
        doc["layers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip")
    );
    assert_tags_serve(&registry, "team/embedded-gzip", &["v2"], &pushed).await;

    // Layers that are compressed already leave nothing to do: docker's own manifest, byte for byte, even with zstd.
    let already = scratch_dir("docker-archive-oci-gzip");
    let (archive, manifest_digest) = embedded_layout_archive(already.path(), true);
    let source = ImageSource::parse(&format!("docker-archive:{}:team/app:v2", archive.display())).expect("parse");
    let plan = source.plan_with(Compression::Zstd, &Stop::default()).expect("plan");
    assert_eq!(plan.summary().digest, manifest_digest);
    assert!(plan.compressed().is_none());
}

#[cfg(feature = "stand-ins")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_arch_index_pushes_children_before_the_index() {
    let registry = TestRegistry::start();
    let scratch = scratch_dir("multi-arch");
    let mut layout = Layout::new(scratch.path());
    let shared = random_layer("shared.bin", 400_000, true);
    let amd64 = layout.image(&[random_layer("amd64.bin", 600_000, true), clone_layer(&shared)], "amd64");
    let arm64 = layout.image(&[random_layer("arm64.bin", 500_000, true), clone_layer(&shared)], "arm64");
    let children = [amd64["digest"].as_str().unwrap().to_string(), arm64["digest"].as_str().unwrap().to_string()];
    let index =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [amd64, arm64]})).unwrap();
    let (index_digest, index_size) = layout.blob(&index);
    layout.name(json!({"mediaType": OCI_INDEX, "digest": index_digest, "size": index_size}), "multi");

    let (target, _) = target_registry(&format!("http://{}", registry.host()), "team/multi");
    let pushed = oci::push(&layout.source(None).plan().expect("plan"), &target, &tags(&["v1", "v1.0"]), &quiet())
        .await
        .expect("push");
    assert_eq!(pushed.digest, index_digest);
    assert_eq!(pushed.media_type, OCI_INDEX);
    assert_eq!(pushed.blobs_uploaded, 5, "2 configs + 2 own layers + 1 shared layer");
    assert_tags_serve(&registry, "team/multi", &["v1", "v1.0"], &pushed).await;
    let base = format!("http://{}", registry.host());
    for child in &children {
        let (status, content_type, body) = get_manifest(&base, "team/multi", child).await;
        assert_eq!((status, content_type.as_str()), (200, OCI_MANIFEST), "child {child}");
        assert_eq!(&digest_of(&body), child);
    }
    let again = oci::push(&layout.source(None).plan().expect("plan"), &target, &tags(&["v1"]), &quiet())
        .await
        .expect("re-push");
    assert_eq!((again.blobs_uploaded, again.blobs_skipped), (0, 5));
}

fn clone_layer(layer: &Layer) -> Layer {
    Layer { blob: layer.blob.clone(), media_type: layer.media_type, diff_id: layer.diff_id.clone() }
}

#[cfg(feature = "stand-ins")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_that_does_not_match_its_digest_fails_the_push_with_nothing_tagged() {
    let registry = TestRegistry::start();
    let scratch = scratch_dir("corrupt");
    let mut layout = Layout::new(scratch.path());
    let layers = [random_layer("good.bin", 1_000_000, true), random_layer("bad.bin", 1_500_000, true)];
    let descriptor = layout.image(&layers, "amd64");
    let manifest_digest = layout.name(descriptor, "v1");
    // Same size, one byte different: only hashing the stream can notice.
    let bad_digest = digest_of(&layers[1].blob);
    let mut corrupted = layers[1].blob.clone();
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0xff;
    std::fs::write(layout.blob_path(&bad_digest), &corrupted).unwrap();

    let (target, _) = target_registry(&format!("http://{}", registry.host()), "team/corrupt");
    let error = oci::push(&layout.source(Some("v1")).plan().expect("plan"), &target, &tags(&["v1"]), &quiet())
        .await
        .unwrap_err();
    let typed = error.downcast_ref::<oci::Error>().expect("a typed push error");
    assert!(matches!(typed, oci::Error::BlobCorrupt { .. }), "{typed:?}");
    let text = error.to_string();
    assert!(text.contains(&format!("uploading layer {bad_digest} to team/corrupt")), "{text}");
    assert!(text.contains(&digest_of(&corrupted)), "names what was read: {text}");

    let base = format!("http://{}", registry.host());
    assert_eq!(get_manifest(&base, "team/corrupt", "v1").await.0, 404, "no tag was published");
    assert_eq!(get_manifest(&base, "team/corrupt", &manifest_digest).await.0, 404, "no manifest was published");
    let blob = reqwest::Client::new()
        .head(format!("{base}/v2/team/corrupt/blobs/{bad_digest}"))
        .basic_auth("AWS", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(blob.status().as_u16(), 404, "the corrupt blob never landed");
}

#[cfg(feature = "stand-ins")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_with_the_unauthorized_message_after_one_refresh() {
    struct Wrong(AtomicUsize);
    impl RegistryAuth for Wrong {
        fn credentials(&self, refresh: bool) -> CredentialsFuture<'_> {
            if refresh {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
            Box::pin(async { Ok(Credentials { username: "AWS".into(), password: "not-the-token".into() }) })
        }
    }
    let registry = TestRegistry::start();
    let scratch = scratch_dir("unauthorized");
    let mut layout = Layout::new(scratch.path());
    layout.name(layout.image(&[random_layer("a", 1000, true)], "amd64"), "v1");
    let auth = Arc::new(Wrong(AtomicUsize::new(0)));
    let target = Registry::new(&format!("http://{}", registry.host()), "team/app", auth.clone()).unwrap();
    let error =
        oci::push(&layout.source(None).plan().expect("plan"), &target, &tags(&["v1"]), &quiet()).await.unwrap_err();
    assert!(matches!(error.downcast_ref::<oci::Error>(), Some(oci::Error::Unauthorized { .. })), "{error:?}");
    assert!(error.to_string().contains("in team/app"), "names the repository: {error}");
    assert!(!format!("{error:?}").contains("not-the-token"), "the token is never in an error");
    assert_eq!(auth.0.load(Ordering::SeqCst), 1, "exactly one refresh");
}

// ---------------------------------------------------------------------------------------------------------------
// Fault injection: a real TCP proxy between the client and the registry
// ---------------------------------------------------------------------------------------------------------------

#[derive(Default)]
struct ProxyStats {
    requests: AtomicUsize,
    dropped: AtomicUsize,
    dropped_mid_body: AtomicUsize,
    status_500: AtomicUsize,
    status_429: AtomicUsize,
    /// ECR's answer to an expired token: 403 DENIED (it never sends 401 for that).
    expired_token: AtomicUsize,
    immutable: AtomicUsize,
    /// (Content-Length, chunked) of every blob PUT that reached the proxy.
    blob_puts: Mutex<Vec<(Option<u64>, bool)>>,
}

#[derive(Clone, Default)]
struct FaultPlan {
    /// Inject drops, 500s, 429s and one expired token (403 DENIED, as ECR answers).
    faults: bool,
    /// Answer manifest PUTs for this tag the way ECR does for an immutable repository.
    immutable_tag: Option<String>,
    /// Answer the first manifest GETs with 500, then 429, then an expired token (403 DENIED), before letting one through.
    manifest_get_faults: bool,
}

struct FaultProxy {
    port: u16,
    stats: Arc<ProxyStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Fault {
    Forward,
    Drop,
    DropMidBody,
    Status(u16),
    /// 403 DENIED with ECR's expired-token message.
    ExpiredToken,
    Immutable,
}

/// Bounds on the proxy so a broken client can't keep a test alive.
const PROXY_MAX_CONNECTIONS: usize = 5_000;
const PROXY_CONNECTION_TIME: Duration = Duration::from_secs(60);

async fn start_fault_proxy(upstream: u16, plan: FaultPlan) -> FaultProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().expect("proxy addr").port();
    let stats = Arc::new(ProxyStats::default());
    let task_stats = stats.clone();
    let task = tokio::spawn(async move {
        for _ in 0..PROXY_MAX_CONNECTIONS {
            let Ok((client, _)) = listener.accept().await else { return };
            let (stats, plan) = (task_stats.clone(), plan.clone());
            tokio::spawn(async move {
                let _ = tokio::time::timeout(PROXY_CONNECTION_TIME, serve(client, upstream, &stats, &plan)).await;
            });
        }
    });
    FaultProxy { port, stats, task }
}

struct Head {
    method: String,
    path: String,
    content_length: Option<u64>,
    chunked: bool,
    /// The head rewritten for the upstream: `Connection: close`, so each connection carries one request.
    upstream_head: Vec<u8>,
    /// Body bytes read together with the head.
    leftover: Vec<u8>,
}

async fn read_head(client: &mut TcpStream) -> Option<Head> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > 64 * 1024 {
            return None;
        }
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next()?.to_string();
    let mut parts = request_line.split(' ');
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut upstream_head = format!("{request_line}\r\n");
    let (mut content_length, mut chunked) = (None, false);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "content-length" => content_length = value.trim().parse().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => continue,
            _ => {}
        }
        upstream_head.push_str(line);
        upstream_head.push_str("\r\n");
    }
    upstream_head.push_str("Connection: close\r\n\r\n");
    Some(Head {
        method,
        path,
        content_length,
        chunked,
        upstream_head: upstream_head.into_bytes(),
        leftover: buffer[end + 4..].to_vec(),
    })
}

/// Takes one unit of a fault budget, atomically, so concurrent requests can't overspend it.
fn claim(counter: &AtomicUsize, limit: usize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| (used < limit).then_some(used + 1)).is_ok()
}

fn decide(n: usize, head: &Head, stats: &ProxyStats, plan: &FaultPlan) -> Fault {
    if let Some(tag) = &plan.immutable_tag
        && head.method == "PUT"
        && head.path.ends_with(&format!("/manifests/{tag}"))
    {
        stats.immutable.fetch_add(1, Ordering::SeqCst);
        return Fault::Immutable;
    }
    if plan.manifest_get_faults && head.method == "GET" && head.path.contains("/manifests/") {
        if claim(&stats.status_500, 1) {
            return Fault::Status(500);
        }
        if claim(&stats.status_429, 1) {
            return Fault::Status(429);
        }
        if claim(&stats.expired_token, 1) {
            return Fault::ExpiredToken;
        }
        return Fault::Forward;
    }
    if !plan.faults {
        return Fault::Forward;
    }
    let big_blob_put =
        head.method == "PUT" && head.path.contains("/blobs/uploads/") && head.content_length.unwrap_or(0) > 1_000_000;
    if big_blob_put && claim(&stats.dropped_mid_body, 1) {
        return Fault::DropMidBody;
    }
    if n >= 6 && claim(&stats.expired_token, 1) {
        return Fault::ExpiredToken;
    }
    // Every third request, while each kind has budget left: never two faults in a row. The budgets add up to
    // 11 faults in all (3 + 3 + 3 + 1 + 1).
    if n % 3 == 1 {
        match (n / 3) % 3 {
            0 if claim(&stats.status_500, 3) => return Fault::Status(500),
            1 if claim(&stats.status_429, 3) => return Fault::Status(429),
            2 if claim(&stats.dropped, 3) => return Fault::Drop,
            _ => {}
        }
    }
    Fault::Forward
}

async fn serve(mut client: TcpStream, upstream: u16, stats: &ProxyStats, plan: &FaultPlan) {
    let Some(head) = read_head(&mut client).await else { return };
    let n = stats.requests.fetch_add(1, Ordering::SeqCst);
    if head.method == "PUT" && head.path.contains("/blobs/uploads/") {
        stats.blob_puts.lock().unwrap().push((head.content_length, head.chunked));
    }
    let body_length = head.content_length.unwrap_or(0);
    let unread_body = body_length.saturating_sub(head.leftover.len() as u64);
    match decide(n, &head, stats, plan) {
        Fault::Drop => drop(client),
        Fault::DropMidBody => {
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else { return };
            let _ = server.write_all(&head.upstream_head).await;
            let _ = server.write_all(&head.leftover).await;
            let _ = copy_exact(&mut client, &mut server, (body_length / 2).saturating_sub(head.leftover.len() as u64))
                .await;
            // Both sides see the connection die half-way through the blob.
        }
        Fault::Status(code) => {
            let _ = discard(&mut client, unread_body).await;
            let (error_code, extra) = match code {
                401 => ("UNAUTHORIZED", "WWW-Authenticate: Basic realm=\"basic-realm\"\r\n"),
                429 => ("TOOMANYREQUESTS", "Retry-After: 0\r\n"),
                _ => ("UNKNOWN", ""),
            };
            respond(&mut client, code, extra, error_code, "injected by the test proxy").await;
        }
        Fault::ExpiredToken => {
            let _ = discard(&mut client, unread_body).await;
            let message = "Your authorization token has expired. Reauthenticate and try again.";
            respond(&mut client, 403, "", "DENIED", message).await;
        }
        Fault::Immutable => {
            let _ = discard(&mut client, unread_body).await;
            let tag = plan.immutable_tag.clone().unwrap_or_default();
            let message = format!(
                "tag invalid: The image tag '{tag}' already exists in the 'team/app' repository and cannot be \
                 overwritten because the repository is immutable."
            );
            respond(&mut client, 400, "", "TAG_INVALID", &message).await;
        }
        Fault::Forward => {
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else { return };
            if server.write_all(&head.upstream_head).await.is_err() || server.write_all(&head.leftover).await.is_err() {
                return;
            }
            if copy_exact(&mut client, &mut server, unread_body).await.is_err() {
                return;
            }
            let _ = tokio::io::copy(&mut server, &mut client).await;
            let _ = client.shutdown().await;
        }
    }
}

async fn respond(client: &mut TcpStream, code: u16, extra: &str, error_code: &str, message: &str) {
    let body = json!({"errors": [{"code": error_code, "message": message, "detail": null}]}).to_string();
    let response = format!(
        "HTTP/1.1 {code} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}

async fn copy_exact(from: &mut TcpStream, to: &mut TcpStream, mut remaining: u64) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 64 * 1024];
    while remaining > 0 {
        let want = buffer.len().min(usize::try_from(remaining).unwrap_or(buffer.len()));
        let n = from.read(&mut buffer[..want]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        to.write_all(&buffer[..n]).await?;
        remaining -= n as u64;
    }
    Ok(())
}

async fn discard(from: &mut TcpStream, mut remaining: u64) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 64 * 1024];
    while remaining > 0 {
        let want = buffer.len().min(usize::try_from(remaining).unwrap_or(buffer.len()));
        let n = from.read(&mut buffer[..want]).await?;
        if n == 0 {
            return Ok(());
        }
        remaining -= n as u64;
    }
    Ok(())
}

#[cfg(feature = "stand-ins")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_survives_drops_5xx_429_and_one_expired_token_with_identical_digests() {
    let registry = TestRegistry::start();
    let scratch = scratch_dir("faults");
    let mut layout = Layout::new(scratch.path());
    let shared = random_layer("shared.bin", 2_500_000, true);
    let amd64 = layout.image(&[clone_layer(&shared), random_layer("amd.bin", 1_200_000, false)], "amd64");
    let arm64 = layout.image(&[clone_layer(&shared), random_layer("arm.bin", 300_000, true)], "arm64");
    let index =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [amd64, arm64]})).unwrap();
    let (index_digest, index_size) = layout.blob(&index);
    layout.name(json!({"mediaType": OCI_INDEX, "digest": index_digest, "size": index_size}), "v1");

    let proxy = start_fault_proxy(registry.port, FaultPlan { faults: true, ..FaultPlan::default() }).await;
    let (target, auth) = target_registry(&format!("http://127.0.0.1:{}", proxy.port), "team/faults");
    let options = PushOptions {
        concurrency: 3,
        retry: RetryPolicy {
            // More attempts than the proxy has faults in its budget (11), so no interleaving can exhaust them.
            attempts: 12,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
        },
        ..quiet()
    };
    let pushed = oci::push(&layout.source(None).plan().expect("plan"), &target, &tags(&["v1", "stable"]), &options)
        .await
        .expect("push");
    assert_eq!(pushed.digest, index_digest, "same digest as the layout, despite the faults");
    assert_eq!(pushed.blobs_uploaded, 5);

    let stats = &proxy.stats;
    let injected = |counter: &AtomicUsize| counter.load(Ordering::SeqCst);
    assert_eq!(injected(&stats.expired_token), 1);
    assert_eq!(auth.refreshes.load(Ordering::SeqCst), 1, "the expired token cost exactly one refresh");
    assert_eq!(auth.initial.load(Ordering::SeqCst), 1);
    assert_eq!(injected(&stats.dropped_mid_body), 1, "a blob upload died half-way and was re-sent");
    assert!(injected(&stats.status_500) >= 1 && injected(&stats.status_429) >= 1 && injected(&stats.dropped) >= 1);
    // Monolithic uploads: every blob PUT carries its Content-Length, never a chunked body.
    let puts = stats.blob_puts.lock().unwrap().clone();
    assert!(puts.len() >= 5 && puts.iter().all(|(length, chunked)| length.is_some() && !chunked), "{puts:?}");

    // Read back directly from the registry, bypassing the proxy.
    assert_tags_serve(&registry, "team/faults", &["v1", "stable"], &pushed).await;
}

#[cfg(feature = "stand-ins")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_immutable_tag_refusal_surfaces_as_a_typed_error() {
    let registry = TestRegistry::start();
    let scratch = scratch_dir("immutable");
    let mut layout = Layout::new(scratch.path());
    layout.name(layout.image(&[random_layer("a", 2000, true)], "amd64"), "v1");
    let plan = FaultPlan { immutable_tag: Some("v1".into()), ..FaultPlan::default() };
    let proxy = start_fault_proxy(registry.port, plan).await;
    let (target, _) = target_registry(&format!("http://127.0.0.1:{}", proxy.port), "team/app");
    let error =
        oci::push(&layout.source(None).plan().expect("plan"), &target, &tags(&["v1"]), &quiet()).await.unwrap_err();
    assert_eq!(oci::immutable_tag(&error), Some("v1"), "{error:#}");
    assert!(error.to_string().contains("cannot be overwritten because the repository's tags are immutable"));
    assert_eq!(proxy.stats.immutable.load(Ordering::SeqCst), 1, "a 400 is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_never_answers_hits_the_push_timeout() {
    // Accepts connections and holds them without a byte of answer, like a black-holed endpoint.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..100 {
            let Ok((socket, _)) = listener.accept().await else { return };
            held.push(socket);
        }
    });
    let scratch = scratch_dir("timeout");
    let mut layout = Layout::new(scratch.path());
    layout.name(layout.image(&[random_layer("a", 1000, true)], "amd64"), "v1");
    let (target, _) = target_registry(&format!("http://127.0.0.1:{port}"), "team/app");
    let options = PushOptions { timeout: Some(Duration::from_secs(1)), ..quiet() };
    let error =
        oci::push(&layout.source(None).plan().expect("plan"), &target, &tags(&["v1"]), &options).await.unwrap_err();
    silent.abort();
    assert!(matches!(error.downcast_ref::<oci::Error>(), Some(oci::Error::Timeout { .. })), "{error:?}");
    assert!(error.to_string().contains("team/app did not finish within 1s"), "{error}");
}

#[cfg(feature = "stand-ins")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_manifest_back_survives_500_429_and_an_expired_token_with_one_refresh() {
    let registry = TestRegistry::start();
    let scratch = scratch_dir("get-faults");
    let mut layout = Layout::new(scratch.path());
    layout.name(layout.image(&[random_layer("a", 2000, true)], "amd64"), "v1");
    let (direct, _) = target_registry(&format!("http://{}", registry.host()), "team/read");
    let pushed =
        oci::push(&layout.source(None).plan().expect("plan"), &direct, &tags(&["v1"]), &quiet()).await.expect("push");

    let proxy = start_fault_proxy(registry.port, FaultPlan { manifest_get_faults: true, ..FaultPlan::default() }).await;
    let (through_proxy, auth) = target_registry(&format!("http://127.0.0.1:{}", proxy.port), "team/read");
    let (bytes, media_type) = through_proxy.get_manifest("v1").await.expect("read the manifest back");
    assert_eq!(bytes, pushed.manifest);
    assert_eq!(media_type, pushed.media_type);
    let injected = |counter: &AtomicUsize| counter.load(Ordering::SeqCst);
    let stats = &proxy.stats;
    assert_eq!((injected(&stats.status_500), injected(&stats.status_429), injected(&stats.expired_token)), (1, 1, 1));
    assert_eq!(auth.refreshes.load(Ordering::SeqCst), 1, "the expired token cost exactly one refresh");
    assert_eq!(auth.initial.load(Ordering::SeqCst), 1);
}

/// A one-connection-per-request HTTP server: records each request's head (and drains its body), answers with
/// `answer(head)`, closes. Stops after 64 requests or when its task is aborted.
async fn record_and_answer(listener: TcpListener, seen: Arc<Mutex<Vec<String>>>, answer: fn(&str) -> String) {
    for _ in 0..64 {
        let Ok((mut client, _)) = listener.accept().await else { return };
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 16_384 {
            if client.read(&mut byte).await.unwrap_or(0) == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let length: usize = text
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        let _ = client.read_exact(&mut body).await;
        seen.lock().unwrap().push(text.clone());
        let _ = client.write_all(answer(&text).as_bytes()).await;
        let _ = client.shutdown().await;
    }
}
/// A registry that hands out upload Locations on another origin: the other host must never see the credentials.
/// Two real HTTP servers on loopback (different ports, so different origins); each records the requests' heads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_follow_an_upload_location_to_another_origin() {
    let elsewhere = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_port = elsewhere.local_addr().unwrap().port();
    let registry = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry_port = registry.local_addr().unwrap().port();
    // The registry's answers: no blob yet, uploads go elsewhere; the other host refuses, ending the push.
    static OTHER: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    OTHER.set(elsewhere_port).unwrap();
    let registry_seen = Arc::new(Mutex::new(Vec::new()));
    let elsewhere_seen = Arc::new(Mutex::new(Vec::new()));
    let registry_task = tokio::spawn(record_and_answer(registry, registry_seen.clone(), |head| {
        if head.starts_with("POST") {
            format!(
                "HTTP/1.1 202 Accepted\r\nLocation: http://127.0.0.1:{}/upload/1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                OTHER.get().unwrap()
            )
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
        }
    }));
    let elsewhere_task = tokio::spawn(record_and_answer(elsewhere, elsewhere_seen.clone(), |_| {
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
    }));

    let scratch = scratch_dir("foreign-location");
    let mut layout = Layout::new(scratch.path());
    let image = layout.image(&[random_layer("foreign.bin", 2_000, true)], "amd64");
    layout.name(image, "v1");
    let (target, _) = target_registry(&format!("http://127.0.0.1:{registry_port}"), "team/foreign");
    let options = PushOptions { retry: RetryPolicy { attempts: 1, ..RetryPolicy::default() }, ..quiet() };
    let pushed = oci::push(&layout.source(None).plan().expect("plan"), &target, &tags(&["v1"]), &options).await;
    assert!(pushed.is_err(), "the foreign host refused the upload");
    registry_task.abort();
    elsewhere_task.abort();

    // A connection the pool opened but never sent a request on carries nothing, credentials neither.
    let registry_heads: Vec<String> = registry_seen.lock().unwrap().iter().filter(|h| !h.is_empty()).cloned().collect();
    let elsewhere_heads = elsewhere_seen.lock().unwrap().clone();
    assert!(registry_heads.iter().any(|h| h.starts_with("POST")), "the upload was started: {registry_heads:?}");
    assert!(
        registry_heads.iter().all(|h| h.to_ascii_lowercase().contains("authorization: basic")),
        "the registry itself gets the credentials: {registry_heads:?}"
    );
    assert!(!elsewhere_heads.is_empty(), "the client followed the Location");
    for head in &elsewhere_heads {
        assert!(!head.to_ascii_lowercase().contains("authorization"), "credentials sent to another origin:\n{head}");
    }
}

/// A registry whose Bearer challenge names a token service on another origin: the registry password must not go
/// there. The push fails saying so, and the other host sees no request at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_password_never_goes_to_a_token_service_on_another_origin() {
    let elsewhere = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_port = elsewhere.local_addr().unwrap().port();
    let registry = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry_port = registry.local_addr().unwrap().port();
    static OTHER: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    OTHER.set(elsewhere_port).unwrap();
    let registry_seen = Arc::new(Mutex::new(Vec::new()));
    let elsewhere_seen = Arc::new(Mutex::new(Vec::new()));
    let registry_task = tokio::spawn(record_and_answer(registry, registry_seen.clone(), |_| {
        format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:{}/token\",service=\"s\"\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            OTHER.get().unwrap()
        )
    }));
    let elsewhere_task = tokio::spawn(record_and_answer(elsewhere, elsewhere_seen.clone(), |_| {
        "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"token\":\"t\"}".to_string()
    }));

    let scratch = scratch_dir("foreign-realm");
    let mut layout = Layout::new(scratch.path());
    let image = layout.image(&[random_layer("realm.bin", 2_000, true)], "amd64");
    layout.name(image, "v1");
    let (target, _) = target_registry(&format!("http://127.0.0.1:{registry_port}"), "team/realm");
    let pushed = oci::push(&layout.source(None).plan().expect("plan"), &target, &tags(&["v1"]), &quiet()).await;
    registry_task.abort();
    elsewhere_task.abort();
    let message = format!("{:#}", pushed.expect_err("no token, no push"));
    assert!(message.contains("not on the registry's origin"), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");
    assert!(!registry_seen.lock().unwrap().is_empty(), "the registry was asked");
    assert!(elsewhere_seen.lock().unwrap().is_empty(), "the foreign token service got a request");
}

/// Packs an OCI layout directory as docker 25+ saves it (blobs/, index.json, oci-layout), with manifest.json naming
/// the image whose manifest is `manifest_digest`.
fn docker_archive_of_layout(layout_dir: &std::path::Path, manifest_digest: &str, archive: &std::path::Path) {
    let blob_name = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let manifest: Value = serde_json::from_slice(&std::fs::read(layout_dir.join(blob_name(manifest_digest))).unwrap())
        .expect("the manifest");
    let layers: Vec<String> =
        manifest["layers"].as_array().unwrap().iter().map(|l| blob_name(l["digest"].as_str().unwrap())).collect();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in std::fs::read_dir(layout_dir.join("blobs/sha256")).unwrap() {
        let path = entry.unwrap().path();
        files.push((
            format!("blobs/sha256/{}", path.file_name().unwrap().to_string_lossy()),
            std::fs::read(&path).unwrap(),
        ));
    }
    for name in ["index.json", "oci-layout"] {
        files.push((name.into(), std::fs::read(layout_dir.join(name)).unwrap()));
    }
    let docker_manifest = json!([{"Config": blob_name(manifest["config"]["digest"].as_str().unwrap()),
                                 "RepoTags": ["app:1"], "Layers": layers}]);
    files.push(("manifest.json".into(), serde_json::to_vec(&docker_manifest).unwrap()));
    write_tar(archive, &files, &[]);
}

/// The default push of a docker image keeps `docker push` when the export holds an image index (the containerd
/// image store with several platforms, or buildx's attestations), which a docker archive's one image cannot carry:
/// `holds_image_index` tells the archives apart.
#[test]
fn an_exported_image_index_of_several_manifests_is_told_apart() {
    let scratch = scratch_dir("docker-archive-index");
    let archive_of = |name: &str, entries: &dyn Fn(&mut Layout) -> (Value, String)| {
        let dir = scratch.path().join(name);
        let mut layout = Layout::new(&dir.join("layout"));
        let (top, image_manifest) = entries(&mut layout);
        layout.name(top, "app:1");
        let archive = dir.join("image.tar");
        docker_archive_of_layout(&dir.join("layout"), &image_manifest, &archive);
        ecr_ship::oci::holds_image_index(&archive).expect("read the archive")
    };
    let digest = |descriptor: &Value| descriptor["digest"].as_str().unwrap().to_string();
    let single = archive_of("single", &|layout| {
        let image = layout.image(&[random_layer("a", 2_000, true)], "amd64");
        (image.clone(), digest(&image))
    });
    let index_of_one = archive_of("index-of-one", &|layout| {
        let image = layout.image(&[random_layer("a", 2_000, true)], "amd64");
        (layout.index(std::slice::from_ref(&image)), digest(&image))
    });
    let platforms = archive_of("platforms", &|layout| {
        let amd = layout.image(&[random_layer("amd", 2_000, true)], "amd64");
        let arm = layout.image(&[random_layer("arm", 2_000, true)], "arm64");
        (layout.index(&[amd.clone(), arm]), digest(&amd))
    });
    let attested = archive_of("attested", &|layout| {
        let image = layout.image(&[random_layer("a", 2_000, true)], "amd64");
        let attestation = layout.attestation(&image);
        (layout.index(&[image.clone(), attestation]), digest(&image))
    });
    assert_eq!((single, index_of_one, platforms, attested), (false, false, true, true));
    let classic = scratch.path().join("classic.tar");
    let layer = text_layer("c.txt", 1_000);
    classic_archive(&classic, "app:1", std::slice::from_ref(&layer), &[digest_of(&layer)]);
    assert!(!ecr_ship::oci::holds_image_index(&classic).unwrap(), "a classic archive has no index.json");
}
