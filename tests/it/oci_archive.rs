//! `ecr-ship push --from oci-archive:FILE[:REF]` through the real binary: an OCI archive (the tar of an OCI layout,
//! as buildx, podman and skopeo write it) pushed natively to the local ECR, streamed from the tar in place. A
//! buildx-shaped multi-arch index with attestation manifests keeps every digest and pulls back whole by the real
//! host name; archives written by skopeo and podman push with their own digest; REF picks by tag, full name or
//! digest; bad archives exit 2 naming the value before anything is contacted.

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::path::Path;

use serde_json::{Value, json};

use crate::support::ecr::push;
use crate::support::ecr::{Ecr, HOST};
use crate::support::images::{Layout, digest_of, random_layer, write_tar};
use crate::support::images::{SHA, single_image_layout};
use crate::support::moto::PASSWORD;
use crate::support::podman::Podman;
use crate::support::{Ship, free_port, scratch_dir};

/// Every blob and manifest of `layout`, by digest, read before the layout directory is removed.
fn blobs_of(layout: &Layout) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(layout.dir.join("blobs/sha256"))
        .unwrap()
        .map(|entry| {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            (digest_of(&bytes), bytes)
        })
        .collect()
}

#[cfg(feature = "stand-ins")]
#[test]
fn a_buildx_archive_with_attestations_is_pushed_whole_with_every_digest_kept() {
    let ecr = Ecr::start();
    let work = scratch_dir("oci-archive-buildx");
    let mut layout = Layout::new(&work.path().join("layout"));
    let shared = random_layer("shared", 30_000, true);
    let amd_layer = random_layer("amd", 20_000, true);
    let amd = layout.image(&[shared.clone(), amd_layer.clone()], "amd64");
    let arm = layout.image(&[shared, random_layer("arm", 20_000, true)], "arm64");
    let (amd_attestation, arm_attestation) = (layout.attestation(&amd), layout.attestation(&arm));
    let children = [amd, arm, amd_attestation, arm_attestation];
    let index = layout.index(&children);
    let index_digest = layout.name_as_buildx(index, "docker.io/team/app:v1");
    layout.archive(&work.path().join("app.tar"), &[]);
    let blobs = blobs_of(&layout);
    // The push reads the tar alone.
    std::fs::remove_dir_all(&layout.dir).unwrap();

    let first =
        push(&ecr, work.path(), &["--from", "oci-archive:app.tar:v1", "--create-repository", "--tag", "v1"]).success();
    assert!(first.stderr.contains(&format!("pushing {index_digest}")), "{}", first.stderr);
    // Configs: 2 images and 2 attestations; layers: 3 of the images (one shared) and 2 in-toto statements.
    assert!(first.stderr.contains(": 9 blobs uploaded"), "{}", first.stderr);
    assert_eq!(ecr.pull_digest("team/app", "v1").as_deref(), Some(index_digest.as_str()));
    let manifest_bytes = |digest: &str| blobs.iter().find(|(d, _)| d == digest).map(|(_, b)| b.clone());
    for child in children.iter().map(|c| c["digest"].as_str().unwrap()).chain([index_digest.as_str()]) {
        assert_eq!(ecr.pull_manifest("team/app", child), manifest_bytes(child), "{child} byte for byte");
    }

    // A puller sees the whole image: skopeo copies every manifest and blob, attestations included, digests kept.
    let pulled = work.path().join("pulled");
    let output = ecr
        .wrap("skopeo")
        .args(["copy", "--all", "--preserve-digests", "--src-creds", &format!("AWS:{PASSWORD}"), "--src-cert-dir"])
        .arg(ecr.ca().parent().unwrap())
        .arg(format!("docker://{HOST}/team/app:v1"))
        .arg(format!("oci:{}:v1", pulled.display()))
        .output()
        .expect("skopeo");
    assert!(output.status.success(), "skopeo copy --all: {}", String::from_utf8_lossy(&output.stderr));
    let index_json: Value = serde_json::from_slice(&std::fs::read(pulled.join("index.json")).unwrap()).unwrap();
    assert_eq!(index_json["manifests"][0]["digest"], index_digest.as_str());
    for (digest, bytes) in &blobs {
        let copied = std::fs::read(pulled.join("blobs/sha256").join(&digest[7..]));
        assert_eq!(copied.ok().as_ref(), Some(bytes), "{digest} pulled back unchanged");
    }

    // A re-run, selecting by digest this time: every blob is present, nothing is uploaded.
    let by_digest = format!("oci-archive:app.tar:{index_digest}");
    let again = push(&ecr, work.path(), &["--from", &by_digest, "--tag", "v1"]).success();
    assert!(
        again.stderr.contains("nothing to upload") || again.stderr.contains(": 0 blobs uploaded (0 bytes)"),
        "{}",
        again.stderr
    );

    // One byte of a layer changed, its size kept: only the hash while streaming sees it, and nothing is tagged.
    let mut tar = std::fs::read(work.path().join("app.tar")).unwrap();
    let at = tar.windows(amd_layer.blob.len()).position(|w| w == amd_layer.blob).expect("the layer in the tar");
    tar[at + amd_layer.blob.len() / 2] ^= 0xff;
    std::fs::write(work.path().join("corrupt.tar"), &tar).unwrap();
    let args = ["--repository", "team/corrupt", "--from", "oci-archive:corrupt.tar", "--create-repository"];
    let corrupt = Ship::new(&["push", "--sha", SHA, "--branch", "main", "--tag", "v1"])
        .args_from(&args.map(String::from))
        .against(&ecr)
        .cwd(work.path())
        .run();
    corrupt.fails_with(1, "the local file does not match its digest");
    assert_eq!(ecr.pull_digest("team/corrupt", "v1"), None, "nothing was tagged");
}

/// The digest index.json in an OCI archive names first.
fn archive_digest(path: &Path) -> String {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy().trim_start_matches("./") == "index.json" {
            let index: Value = serde_json::from_reader(entry).unwrap();
            return index["manifests"][0]["digest"].as_str().unwrap().to_string();
        }
    }
    panic!("{} has no index.json", path.display())
}

#[cfg(feature = "stand-ins")]
#[test]
fn archives_written_by_skopeo_and_podman_push_with_their_digest() {
    let ecr = Ecr::start();
    let work = scratch_dir("oci-archive-tools");
    let layout_digest = single_image_layout(&work.path().join("oci"), "skopeo");
    let output = std::process::Command::new("skopeo")
        .args(["copy", "--preserve-digests", "oci:oci:latest", "oci-archive:skopeo.tar:team/app:v1"])
        .current_dir(work.path())
        .output()
        .expect("skopeo");
    assert!(output.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(archive_digest(&work.path().join("skopeo.tar")), layout_digest);

    let podman = Podman::new(&[]);
    podman.build_scratch_image("app:1", &[("hello.txt", b"hello from an oci-archive" as &[u8])]);
    let archive = work.path().join("podman.tar");
    let saved = podman.podman(&["save", "--format", "oci-archive", "-o", &archive.display().to_string(), "app:1"]);
    assert!(saved.status.success(), "podman save: {}", String::from_utf8_lossy(&saved.stderr));
    let podman_digest = archive_digest(&archive);

    // skopeo names the image by the full reference it was given; podman by localhost/app:1, which app:1 selects.
    for (from, tag, digest) in [
        ("oci-archive:skopeo.tar:team/app:v1", "skopeo", &layout_digest),
        ("oci-archive:podman.tar:app:1", "podman", &podman_digest),
    ] {
        push(&ecr, work.path(), &["--from", from, "--create-repository", "--tag", tag]).success();
        assert_eq!(ecr.pull_digest("team/app", tag).as_deref(), Some(digest.as_str()), "{from}");
    }
}

/// A tar holding `name` exactly as given (tar::Builder refuses `..`, real attackers do not).
fn tar_with_raw_name(path: &Path, name: &str) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_size(2);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &b"{}"[..]).unwrap();
    builder.finish().unwrap();
}

#[test]
fn bad_oci_archives_exit_2_naming_the_value_before_anything_is_contacted() {
    let work = scratch_dir("oci-archive-bad");
    let dir = work.path();
    let mut layout = Layout::new(&dir.join("layout"));
    let layer = random_layer("layer", 5_000, true);
    let amd = layout.image(std::slice::from_ref(&layer), "amd64");
    let other = layout.image(&[random_layer("other", 5_000, true)], "amd64");
    layout.name_as_buildx(amd.clone(), "docker.io/library/app:1");
    layout.name(other, "localhost/app:1");
    layout.archive(&dir.join("app.tar"), &[]);

    // A child manifest ECR's schema refuses (config annotations) inside an index: the pre-flight sees every manifest.
    let mut refused = Layout::new(&dir.join("refused"));
    let image = refused.image(std::slice::from_ref(&layer), "arm64");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(refused.blob_path(image["digest"].as_str().unwrap())).unwrap()).unwrap();
    manifest["config"]["annotations"] = json!({"a": "b"});
    let (refused_digest, size) = refused.blob(&serde_json::to_vec(&manifest).unwrap());
    let child =
        json!({"mediaType": image["mediaType"], "digest": refused_digest, "size": size, "platform": image["platform"]});
    let index = refused.index(&[refused.image(std::slice::from_ref(&layer), "amd64"), child]);
    refused.name(index, "latest");
    refused.archive(&dir.join("refused.tar"), &[]);

    // The same layout with the layer missing, then one byte longer, then a manifest changed in place.
    let layer_path = layout.blob_path(&digest_of(&layer.blob));
    std::fs::remove_file(&layer_path).unwrap();
    layout.archive(&dir.join("no-layer.tar"), &[]);
    std::fs::write(&layer_path, [layer.blob.as_slice(), b"x"].concat()).unwrap();
    layout.archive(&dir.join("long-layer.tar"), &[]);
    std::fs::write(&layer_path, &layer.blob).unwrap();
    let manifest_path = layout.blob_path(amd["digest"].as_str().unwrap());
    let mut manifest = std::fs::read(&manifest_path).unwrap();
    manifest[0] = b' ';
    std::fs::write(&manifest_path, &manifest).unwrap();
    layout.archive(&dir.join("bad-manifest.tar"), &[]);

    std::fs::write(dir.join("notes.txt"), "not a tar\n".repeat(100)).unwrap();
    std::fs::write(dir.join("app.tar.gz"), crate::support::images::gzip(&std::fs::read(dir.join("app.tar")).unwrap()))
        .unwrap();
    write_tar(&dir.join("plain.tar"), &[("hello.txt".into(), b"hi".to_vec())], &[]);
    write_tar(&dir.join("docker-save.tar"), &[("manifest.json".into(), b"[]".to_vec())], &[]);
    tar_with_raw_name(&dir.join("climbing.tar"), "../index.json");
    tar_with_raw_name(&dir.join("absolute.tar"), "/etc/index.json");

    let layer_digest = digest_of(&layer.blob);
    let long = format!("is {} bytes but its descriptor says {}", layer.blob.len() + 1, layer.blob.len());
    let in_dir = |name: &str| format!("{}/{name}", dir.display());
    let cases = [
        ("oci-archive:missing.tar", "no file", in_dir("missing.tar")),
        (
            "oci-archive:layout",
            "is a directory, and archives are tar files; for a layout directory use oci:",
            in_dir("layout"),
        ),
        ("oci-archive:notes.txt", "is not a readable tar archive", in_dir("notes.txt")),
        ("oci-archive:plain.tar", "is not an OCI archive: it has no 'oci-layout' file", in_dir("plain.tar")),
        (
            "oci-archive:docker-save.tar",
            "is a docker save archive without an OCI layout, not an OCI archive: push it with docker-archive:",
            in_dir("docker-save.tar"),
        ),
        (
            "oci-archive:app.tar.gz",
            "is gzip-compressed; blobs are streamed from the OCI archive in place, so decompress it first (gunzip",
            in_dir("app.tar.gz"),
        ),
        (
            "oci-archive:climbing.tar",
            "holds the entry '../index.json', which points outside the archive",
            in_dir("climbing.tar"),
        ),
        (
            "oci-archive:absolute.tar",
            "holds the entry '/etc/index.json', which points outside the archive",
            in_dir("absolute.tar"),
        ),
        (
            "oci-archive:no-layer.tar:docker.io/library/app:1",
            &format!("layer {layer_digest} is missing from the OCI archive"),
            in_dir("no-layer.tar"),
        ),
        ("oci-archive:long-layer.tar:docker.io/library/app:1", &long, in_dir("long-layer.tar")),
        (
            "oci-archive:bad-manifest.tar:docker.io/library/app:1",
            "does not match its descriptor",
            in_dir("bad-manifest.tar"),
        ),
        ("oci-archive:app.tar:v9", "has no image named 'v9'", in_dir("app.tar")),
        ("oci-archive:app.tar:app:1", "has 2 different images named 'app:1'", in_dir("app.tar")),
        ("oci-archive:app.tar", "holds 2 images; pick one with oci-archive:", in_dir("app.tar")),
        ("oci-archive:refused.tar", "config.annotations is set", format!("manifest {refused_digest}")),
    ];
    // Any contact would fail (exit 1) at this closed port; exit 2 means nothing was sent.
    let closed = format!("http://127.0.0.1:{}", free_port());
    for (from, expected, value) in cases {
        let run =
            Ship::new(&["push", "--repository", "team/app", "--sha", SHA, "--region", "us-east-1", "--from", from])
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_ENDPOINT_URL", closed.clone())
                .cwd(dir)
                .run();
        assert_eq!(run.code, 2, "{from}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{from}: {}", run.stderr);
        assert!(run.stderr.contains(&value), "{from} names {value}: {}", run.stderr);
        assert_eq!(run.stderr.lines().filter(|l| l.starts_with("ecr-ship: error")).count(), 1, "{}", run.stderr);
    }
}
