//! The matrix recipe end to end through the real binary against the local ECR: each platform pushed with
//! `push --by-digest` (no tag), then `ecr-ship merge` joins the digests into one index under the planned tags.
//! The index and each platform pull back by the real host name (skopeo, and podman's platform resolution); a re-run
//! is idempotent, a duplicate platform and bad input are refused.

// Tests that need services are compiled with `--features stand-ins`; their helpers are unused without it.
#![cfg_attr(not(feature = "stand-ins"), allow(dead_code, unused_imports))]

use std::path::Path;

use serde_json::Value;

use crate::support::ecr::{Ecr, HOST};
use crate::support::images::SHA;
use crate::support::images::{Layout, random_layer};
use crate::support::{Run, Ship, scratch_dir};

/// A layout with one image for `platform` (`amd64`, `arm/v7`), named `latest`; returns its manifest digest.
fn platform_layout(dir: &Path, platform: &str) -> String {
    let mut layout = Layout::new(dir);
    let layers =
        [random_layer(&format!("{platform}-a"), 20_000, true), random_layer(&format!("{platform}-b"), 9_000, true)];
    let image = layout.image(&layers, platform);
    layout.name(image, "latest")
}

fn ship(ecr: &Ecr, cwd: &Path, args: &[&str]) -> Run {
    Ship::new(args).args_from(&["--sha".to_string(), SHA.to_string()]).against(ecr).cwd(cwd).run()
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[cfg(feature = "stand-ins")]
#[test]
fn by_digest_pushes_merge_into_one_index_that_every_platform_pulls_from() {
    let ecr = Ecr::start();
    let work = scratch_dir("merge");
    let mut digests = Vec::new();
    for (index, platform) in ["amd64", "arm64", "arm/v7"].iter().enumerate() {
        let dir = format!("oci-{index}");
        let digest = platform_layout(&work.path().join(&dir), platform);
        let mut args = vec!["push", "--repository", "team/app", "--by-digest", "--json", "--from"];
        let from = format!("oci:{dir}");
        args.push(&from);
        if index == 0 {
            args.push("--create-repository");
        }
        let run = ship(&ecr, work.path(), &args).success();
        let pushed = json_of(&run);
        assert_eq!(pushed["digest"], digest.as_str(), "{platform}");
        assert_eq!(pushed["tags"], serde_json::json!([]), "no tag: {}", run.stdout);
        assert_eq!(pushed["image_uri"], format!("{HOST}/team/app@{digest}"));
        assert_eq!(ecr.pull_digest("team/app", &digest).as_deref(), Some(digest.as_str()));
        // A re-run of the same matrix job: already there, nothing uploaded.
        let again = ship(&ecr, work.path(), &args[..7]).success();
        assert!(again.stderr.contains("nothing to upload"), "{}", again.stderr);
        digests.push(digest);
    }
    assert!(ecr.api_tags("team/app").is_empty(), "by-digest pushes leave no tag");

    let mut merge_args = vec!["merge", "--json", "--repository", "team/app", "--branch", "main"];
    merge_args.extend(digests.iter().map(String::as_str));
    let merged = json_of(&ship(&ecr, work.path(), &merge_args).success());
    let index_digest = merged["digest"].as_str().expect("digest").to_string();
    assert_eq!(merged["tags"], serde_json::json!(["sha-3f78685", "main"]));
    for tag in ["sha-3f78685", "main"] {
        assert_eq!(ecr.pull_digest("team/app", tag).as_deref(), Some(index_digest.as_str()), "pull of {tag}");
    }
    let index: Value = serde_json::from_slice(&ecr.pull_manifest("team/app", "main").expect("index")).unwrap();
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let children: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let variant = p["variant"].as_str().map(|v| format!("/{v}")).unwrap_or_default();
            (
                m["digest"].as_str().unwrap().to_string(),
                format!("{}/{}{variant}", p["os"].as_str().unwrap(), p["architecture"].as_str().unwrap()),
            )
        })
        .collect();
    let want: Vec<(String, String)> =
        digests.iter().cloned().zip(["linux/amd64", "linux/arm64", "linux/arm/v7"].map(String::from)).collect();
    assert_eq!(children, want, "one child per platform, with the platform its config names");

    // Each platform resolves to its own child: skopeo copies the image for --override-arch/--override-variant.
    for (n, (digest, (arch, variant))) in
        digests.iter().zip([("amd64", None), ("arm64", None), ("arm", Some("v7"))]).enumerate()
    {
        let copy = work.path().join(format!("copy-{n}"));
        let mut command = ecr.wrap("skopeo");
        command.args(["--override-os", "linux", "--override-arch", arch]);
        if let Some(variant) = variant {
            command.args(["--override-variant", variant]);
        }
        let output = command
            .args(["copy", "--src-creds", &format!("AWS:{}", crate::support::moto::PASSWORD), "--src-cert-dir"])
            .arg(ecr.ca().parent().unwrap())
            .arg(format!("docker://{HOST}/team/app:main"))
            .arg(format!("oci:{}:p", copy.display()))
            .output()
            .expect("skopeo");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let copied: Value = serde_json::from_slice(&std::fs::read(copy.join("index.json")).unwrap()).unwrap();
        assert_eq!(copied["manifests"][0]["digest"], digest.as_str(), "{arch}: the platform resolves to its child");
    }

    // A re-run of the merge job: the same index, already under every tag.
    let again = ship(&ecr, work.path(), &merge_args).success();
    assert_eq!(json_of(&again)["digest"], index_digest.as_str(), "the same sources give the same index");
    assert!(again.stderr.contains("already points at"), "{}", again.stderr);

    // An index is a source too: its children join the new index. A second amd64 image clashes.
    let other = platform_layout(&work.path().join("oci-other"), "amd64");
    ship(&ecr, work.path(), &["push", "--repository", "team/app", "--by-digest", "--from", "oci:oci-other"]).success();
    let clash = ship(&ecr, work.path(), &["merge", "--repository", "team/app", "--tag", "clash", "main", &other]);
    let clash = clash.fails_with(1, "two images are for linux/amd64");
    assert!(clash.stderr.contains(&digests[0]) && clash.stderr.contains(&other), "{}", clash.stderr);
    assert!(!ecr.api_tags("team/app").contains_key("clash"), "nothing was tagged");
}

#[test]
fn bad_merge_and_by_digest_input_is_refused_before_anything_is_sent() {
    let work = scratch_dir("merge-bad");
    let nothing = crate::support::SilentServer::start();
    let digest = format!("sha256:{}", "a".repeat(64));
    platform_layout(&work.path().join("x"), "amd64");
    let cases: [(&[&str], &str); 4] = [
        (&["merge", "--repository", "team/app", "not a tag"], "not a tag"),
        (&["merge", "--repository", "team/app", &digest, &digest], "given twice"),
        (&["merge", "--repository", "Team/App", &digest], "Team/App"),
        (&["push", "--repository", "team/app", "--by-digest", "--from", "oci:x", "--tag", "v1"], "under no tag"),
    ];
    for (args, needle) in cases {
        Ship::new(args)
            .args_from(&["--region".to_string(), "us-east-1".to_string(), "--sha".to_string(), SHA.to_string()])
            .cwd(work.path())
            .refused_offline(&nothing, needle);
    }
}

/// A matrix leg whose digest output was empty is a platform lost: an empty source is refused by its position
/// (exit 2, nothing sent) wherever the sources come from: arguments, `ECR_SHIP_SOURCES` with commas or one per line
/// (the action's `sources: |` block, passed on as written, its last line break being no source), and so is a
/// `--platforms` that is not os/arch[/variant].
#[test]
fn an_empty_source_or_a_bad_platform_is_refused_before_anything_is_sent() {
    let work = scratch_dir("merge-empty");
    let nothing = crate::support::SilentServer::start();
    let (a, b) = (format!("sha256:{}", "a".repeat(64)), format!("sha256:{}", "b".repeat(64)));
    let base = ["merge", "--repository", "team/app", "--region", "us-east-1", "--sha", SHA];
    let arguments: Vec<&str> = base.iter().copied().chain([a.as_str(), "", b.as_str()]).collect();
    let run = Ship::new(&arguments).cwd(work.path()).refused_offline(&nothing, "merge source 2 of 3");
    assert!(run.stderr.contains("the SOURCE arguments is empty"), "{}", run.stderr);
    let from_variable = [
        (format!("{a},,{b}"), "source 2 of 3"),
        (format!("{a},{b},"), "source 3 of 3"),
        (
            format!(
                "{a}

{b}
"
            ),
            "source 2 of 3",
        ),
        (
            format!(
                "{a}
{b}

"
            ),
            "source 3 of 3",
        ),
        (
            format!(
                "
{b}
"
            ),
            "source 1 of 2",
        ),
        (
            format!(
                "  
{b}"
            ),
            "source 1 of 2",
        ),
    ];
    for (sources, needle) in from_variable {
        let run = Ship::new(&base).env("ECR_SHIP_SOURCES", sources).cwd(work.path()).refused_offline(&nothing, needle);
        assert!(run.stderr.contains("ECR_SHIP_SOURCES (the action's `sources` input) is empty"), "{}", run.stderr);
    }
    for (platforms, needle) in [
        ("linux", "'linux' is not a platform"),
        ("linux/amd64,LINUX/ARM64", "'LINUX/ARM64' is not a platform"),
        ("linux/amd64,linux/amd64", "linux/amd64 is named twice"),
        ("linux/arm64/v8,linux/arm64", "linux/arm64 is named twice"),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(["--platforms", platforms, a.as_str()]).collect();
        Ship::new(&args).cwd(work.path()).refused_offline(&nothing, needle);
        Ship::new(&base)
            .env("ECR_SHIP_PLATFORMS", platforms)
            .env("ECR_SHIP_SOURCES", a.clone())
            .cwd(work.path())
            .refused_offline(&nothing, &format!("ECR_SHIP_PLATFORMS: {needle}"));
    }
}

/// A local image pushed by digest through each engine: exported (`docker save`, `podman save`), pushed natively under
/// no tag, and idempotent on a re-run. Then the two engine images are merged with a native arm64 image, and
/// podman resolves `--platform linux/arm64` of the index to that child.
#[cfg(feature = "stand-ins")]
#[test]
fn engine_images_push_by_digest_and_podman_resolves_the_merged_platform() {
    use crate::support::dockerd::Dockerd;
    use crate::support::podman::Podman;
    let ecr = Ecr::start();
    let work = scratch_dir("merge-engines");
    let dockerd = Dockerd::start_with_hosts(Some(&ecr.hosts_file));
    dockerd.build_scratch_image("app:1", &[("hello.txt", b"hello by digest" as &[u8])]);
    let docker_config = work.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let docker_env = [
        ("DOCKER_HOST".to_string(), dockerd.host()),
        ("DOCKER_CONFIG".to_string(), docker_config.display().to_string()),
    ];
    let args = ["push", "--json", "--repository", "team/app", "--by-digest", "--image", "app:1", "--engine", "docker"];
    let first = Ship::new(&args)
        .args_from(&["--create-repository".to_string(), "--sha".to_string(), SHA.to_string()])
        .envs(docker_env.iter().map(|(k, v)| (k, v)))
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();
    let amd = json_of(&first)["digest"].as_str().expect("digest").to_string();
    assert_eq!(ecr.pull_digest("team/app", &amd).as_deref(), Some(amd.as_str()));
    assert!(ecr.api_tags("team/app").is_empty(), "no tag");
    let again = Ship::new(&args)
        .args_from(&["--sha".to_string(), SHA.to_string()])
        .envs(docker_env.iter().map(|(k, v)| (k, v)))
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();
    assert_eq!(json_of(&again)["digest"], amd.as_str(), "the export compresses the same way every time");
    assert!(again.stderr.contains("nothing to upload"), "{}", again.stderr);
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("ecr-ship-save-"))
        .collect();
    assert!(leftovers.is_empty(), "the exported archive was removed: {leftovers:?}");

    let arm = platform_layout(&work.path().join("oci-arm"), "arm64");
    ship(&ecr, work.path(), &["push", "--repository", "team/app", "--by-digest", "--from", "oci:oci-arm"]).success();
    let merged =
        ship(&ecr, work.path(), &["merge", "--json", "--repository", "team/app", "--tag", "multi", &amd, &arm]);
    let index = json_of(&merged.success())["digest"].as_str().unwrap().to_string();
    assert_eq!(ecr.pull_digest("team/app", "multi").as_deref(), Some(index.as_str()));

    let podman = Podman::new(&[HOST]);
    std::fs::write(podman.auth_file(), "{}").unwrap();
    let pull = |platform: &str| {
        let mut command = ecr.wrap("podman");
        command.env_clear().envs(podman.env()).stdin(std::process::Stdio::null());
        let output = command
            .args(["pull", "-q", "--platform", platform, "--creds", &format!("AWS:{}", crate::support::moto::PASSWORD)])
            .arg(format!("{HOST}/team/app:multi"))
            .output()
            .expect("podman pull");
        assert!(output.status.success(), "podman pull {platform}: {}", String::from_utf8_lossy(&output.stderr));
        let id = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let inspect = podman.podman(&["image", "inspect", "--format", "{{.Architecture}} {{.RepoDigests}}", &id]);
        String::from_utf8_lossy(&inspect.stdout).trim().to_string()
    };
    // podman records the digest it pulled by (the index's) and the child's among the repo digests.
    let arm_pulled = pull("linux/arm64");
    assert!(arm_pulled.starts_with("arm64 ") && arm_pulled.contains(&arm), "linux/arm64: {arm_pulled}");
    let amd_pulled = pull("linux/amd64");
    assert!(amd_pulled.starts_with("amd64 ") && amd_pulled.contains(&amd), "linux/amd64: {amd_pulled}");

    // docker resolves the platform too (it pulls an image of another architecture without running it).
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{}", crate::support::moto::PASSWORD));
    let config = serde_json::json!({"auths": {HOST: {"auth": auth}}});
    std::fs::write(docker_config.join("config.json"), config.to_string()).unwrap();
    let reference = format!("{HOST}/team/app:multi");
    let pulled = dockerd.docker(&docker_config, &["pull", "-q", "--platform", "linux/arm64", &reference]);
    assert!(pulled.status.success(), "docker pull: {}", String::from_utf8_lossy(&pulled.stderr));
    let inspect = dockerd.docker(&docker_config, &["image", "inspect", "--format", "{{.Architecture}}", &reference]);
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), "arm64", "docker resolves linux/arm64");
}

/// Sources of every kind: an index pushed by digest (its children join, its buildx attestation kept as
/// `unknown/unknown` with its annotations) and an image named by a tag. `skopeo copy --all` takes the merged index
/// back with every child; Docker schema 2 children make a Docker manifest list; a missing source is named and
/// nothing is tagged.
#[cfg(feature = "stand-ins")]
#[test]
fn index_and_tag_sources_docker_lists_and_missing_sources() {
    use crate::support::images::{DOCKER_MANIFEST, classic_archive_for, digest_of, text_layer};
    let ecr = Ecr::start();
    let work = scratch_dir("merge-sources");
    let mut layout = Layout::new(&work.path().join("oci-index"));
    let amd = layout.image(&[random_layer("amd", 12_000, true)], "amd64");
    let attestation = layout.attestation(&amd);
    let built = layout.index(&[amd.clone(), attestation.clone()]);
    let built = layout.name(built, "latest");
    let pushed = ship(
        &ecr,
        work.path(),
        &[
            "push",
            "--json",
            "--repository",
            "team/app",
            "--by-digest",
            "--create-repository",
            "--from",
            "oci:oci-index",
        ],
    );
    assert_eq!(json_of(&pushed.success())["digest"], built.as_str(), "an index pushes by digest too");
    let arm = platform_layout(&work.path().join("oci-arm"), "arm64");
    ship(&ecr, work.path(), &["push", "--repository", "team/app", "--from", "oci:oci-arm", "--tag", "build-arm64"])
        .success();

    let merged = ship(
        &ecr,
        work.path(),
        &["merge", "--json", "--repository", "team/app", "--tag", "multi", &built, "build-arm64"],
    );
    let merged = json_of(&merged.success())["digest"].as_str().expect("digest").to_string();
    let index: Value = serde_json::from_slice(&ecr.pull_manifest("team/app", "multi").expect("index")).unwrap();
    let entries = index["manifests"].as_array().expect("manifests");
    let listed: Vec<&str> = entries.iter().map(|m| m["digest"].as_str().unwrap()).collect();
    assert_eq!(listed, [amd["digest"].as_str().unwrap(), attestation["digest"].as_str().unwrap(), arm.as_str()]);
    assert_eq!(entries[1]["platform"], serde_json::json!({"architecture": "unknown", "os": "unknown"}));
    assert_eq!(entries[1]["annotations"]["vnd.docker.reference.type"], "attestation-manifest", "kept as it is");
    assert_eq!(entries[2]["platform"]["architecture"], "arm64", "from the config of the tagged image");

    // skopeo copy --all: the index and every child (with their blobs) come back.
    let copy = work.path().join("copy-all");
    let output = ecr
        .wrap("skopeo")
        .args(["copy", "--all", "--src-creds", &format!("AWS:{}", crate::support::moto::PASSWORD), "--src-cert-dir"])
        .arg(ecr.ca().parent().unwrap())
        .arg(format!("docker://{HOST}/team/app:multi"))
        .arg(format!("oci:{}:all", copy.display()))
        .output()
        .expect("skopeo");
    assert!(output.status.success(), "skopeo copy --all: {}", String::from_utf8_lossy(&output.stderr));
    let copied: Value = serde_json::from_slice(&std::fs::read(copy.join("index.json")).unwrap()).unwrap();
    assert_eq!(copied["manifests"][0]["digest"], merged.as_str(), "the index itself");
    for child in &listed {
        let blob = std::fs::read(copy.join("blobs/sha256").join(&child[7..])).expect("every child is copied");
        assert_eq!(digest_of(&blob), *child);
    }

    // Docker schema 2 children (docker save archives, pushed by digest) make a Docker manifest list.
    let mut docker_children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let layer = text_layer(&format!("{arch}.txt"), 30_000);
        let archive = work.path().join(format!("{arch}.tar"));
        classic_archive_for(arch, &archive, &format!("app:{arch}"), std::slice::from_ref(&layer), &[digest_of(&layer)]);
        let from = format!("docker-archive:{}", archive.display());
        let run =
            ship(&ecr, work.path(), &["push", "--json", "--repository", "team/app", "--by-digest", "--from", &from]);
        docker_children.push(json_of(&run.success())["digest"].as_str().expect("digest").to_string());
    }
    let args = ["merge", "--repository", "team/app", "--tag", "docker-list", &docker_children[0], &docker_children[1]];
    ship(&ecr, work.path(), &args).success();
    let list: Value = serde_json::from_slice(&ecr.pull_manifest("team/app", "docker-list").expect("list")).unwrap();
    assert_eq!(list["mediaType"], "application/vnd.docker.distribution.manifest.list.v2+json");
    assert!(list["manifests"].as_array().unwrap().iter().all(|m| m["mediaType"] == DOCKER_MANIFEST), "{list}");

    // A missing source (a digest or a tag not in the repository) is named, after contact; nothing is tagged.
    let absent = format!("sha256:{}", "0".repeat(64));
    for missing in [absent.as_str(), "no-such-tag"] {
        let run = ship(&ecr, work.path(), &["merge", "--repository", "team/app", "--tag", "broken", &arm, missing]);
        let run = run.fails_with(1, &format!("reading merge SOURCE '{missing}' of 'team/app'"));
        assert!(run.stderr.contains(&format!("no image '{missing}'")), "{}", run.stderr);
    }
    assert!(!ecr.api_tags("team/app").contains_key("broken"), "nothing was tagged");
}

/// `push --by-digest --scan-fail-on` runs the vulnerability gate on the pushed digest, as a tagged push does.
#[cfg(feature = "stand-ins")]
#[test]
fn a_by_digest_push_runs_the_vulnerability_gate_on_its_digest() {
    use crate::scan::{basic, basic_scan};
    let ecr = Ecr::start();
    let work = scratch_dir("merge-gate");
    let digest = platform_layout(&work.path().join("oci"), "amd64");
    let findings = basic_scan(vec![basic("CVE-2024-0001", "CRITICAL", "openssl", "3.0.1")]);
    ecr.set_scan_findings("team/app", serde_json::json!({"imageDigest": digest}), findings);
    let args = ["push", "--repository", "team/app", "--by-digest", "--create-repository", "--from", "oci:oci"];
    let gated = Ship::new(&args).args_from(&["--scan-fail-on".into(), "HIGH".into()]).against(&ecr).cwd(work.path());
    let failed = gated.run().fails_with(3, "the vulnerability gate failed");
    assert!(failed.stderr.contains(&format!("{HOST}/team/app@{digest}")), "{}", failed.stderr);
    assert_eq!(failed.stdout, format!("{HOST}/team/app@{digest}\n"), "the push's result is still reported");
    assert!(ecr.api_tags("team/app").is_empty(), "no tag");
}

/// `--platforms` against what the sources hold, after reading them and before any PutImage: a platform missing
/// (the lost matrix leg) or one not asked for is exit 2 naming both lists, and nothing is tagged. A one-platform
/// merge warns, unless `--platforms` names exactly that platform; the matching merge goes through.
#[cfg(feature = "stand-ins")]
#[test]
fn platforms_must_match_before_anything_is_tagged_and_one_platform_warns() {
    let ecr = Ecr::start();
    let work = scratch_dir("merge-platforms");
    let mut digests = Vec::new();
    for (index, platform) in ["amd64", "arm64"].iter().enumerate() {
        let dir = format!("oci-{index}");
        digests.push(platform_layout(&work.path().join(&dir), platform));
        let from = format!("oci:{dir}");
        let mut args = vec!["push", "--repository", "team/app", "--by-digest", "--from", &from];
        if index == 0 {
            args.push("--create-repository");
        }
        ship(&ecr, work.path(), &args).success();
    }
    let merge = |platforms: &str, tag: &str, sources: &[&String]| {
        let mut args = vec!["merge", "--repository", "team/app", "--tag", tag];
        if !platforms.is_empty() {
            args.extend(["--platforms", platforms]);
        }
        args.extend(sources.iter().map(|s| s.as_str()));
        ship(&ecr, work.path(), &args)
    };
    let lost_leg = merge("linux/amd64,linux/arm64", "lost", &[&digests[0]]).fails_with(2, "missing linux/arm64");
    assert!(
        lost_leg.stderr.contains("the sources hold linux/amd64, but --platforms asks for linux/amd64, linux/arm64"),
        "{}",
        lost_leg.stderr
    );
    let extra = merge("linux/amd64", "extra", &[&digests[0], &digests[1]]).fails_with(2, "not asked for linux/arm64");
    assert!(extra.stderr.contains("nothing was tagged"), "{}", extra.stderr);
    let tags = ecr.api_tags("team/app");
    assert!(!tags.contains_key("lost") && !tags.contains_key("extra"), "nothing was put: {tags:?}");

    let one = merge("", "one", &[&digests[0]]).success();
    assert!(one.stderr.contains("holds one platform only (linux/amd64)"), "{}", one.stderr);
    let meant = merge("linux/amd64", "one-meant", &[&digests[0]]).success();
    assert!(!meant.stderr.contains("one platform only"), "{}", meant.stderr);
    let both = merge("linux/arm64,linux/amd64", "both", &[&digests[0], &digests[1]]).success();
    assert!(!both.stderr.contains("one platform only"), "{}", both.stderr);
    let index: Value = serde_json::from_slice(&ecr.pull_manifest("team/app", "both").expect("index")).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
}
