//! Real ECR is stricter than distribution 2.8: these tests hold the stand-in to ECR's answers (so a test that
//! passes here would pass against ECR) and the binary to handling them: an expired token (403) mid-push, a
//! throttled PutImage budget shared by a matrix of jobs, a zero-byte blob, a missing repository.
//! Each of them would pass against plain distribution whatever the product did; against the stand-in it fails
//! unless the product handles ECR's behaviour.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::support::ecr::{Ecr, HOST};
use crate::support::images::{Layout, random_layer};
use crate::support::images::{SHA, single_image_layout};
use crate::support::{Ship, moto::PASSWORD, scratch_dir};

/// One raw request to the stand-in's registry by its real host name: (HTTP status, headers, body). Status 0 means
/// the connection closed without an answer.
fn registry(ecr: &Ecr, method: &str, url: &str, headers: &[&str], body: Option<&[u8]>, auth: bool) -> Answer {
    let work = scratch_dir("curl");
    let head = work.path().join("head");
    let mut command = Command::new("curl");
    command.args(["-sS", "-o", "-", "-D"]).arg(&head).args(["-X", method, "--cacert"]).arg(ecr.ca());
    command.args(["--resolve", &format!("{HOST}:443:{}", ecr.ip)]);
    if auth {
        command.args(["-u", &format!("AWS:{PASSWORD}")]);
    }
    for header in headers {
        command.args(["-H", header]);
    }
    if let Some(bytes) = body {
        let file = work.path().join("body");
        std::fs::write(&file, bytes).unwrap();
        command.arg("--data-binary").arg(format!("@{}", file.display()));
    }
    let url = if url.starts_with("https://") { url.to_string() } else { format!("https://{HOST}{url}") };
    let output = command.arg(url).output().expect("curl");
    let headers = std::fs::read_to_string(&head).unwrap_or_default();
    let status = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Answer { status, headers, body: String::from_utf8_lossy(&output.stdout).into_owned() }
}

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_string())
        })
    }
}

/// POST + PUT of one blob; returns the PUT's answer.
fn upload(ecr: &Ecr, repository: &str, bytes: &[u8], digest: &str) -> Answer {
    let start = registry(ecr, "POST", &format!("/v2/{repository}/blobs/uploads/"), &[], None, true);
    assert_eq!(start.status, 202, "upload start: {} {}", start.headers, start.body);
    let location = start.header("location").expect("Location");
    assert!(location.starts_with(&format!("https://{HOST}/")), "ECR's Location is absolute: {location}");
    let separator = if location.contains('?') { '&' } else { '?' };
    registry(
        ecr,
        "PUT",
        &format!("{location}{separator}digest={digest}"),
        &["Content-Type: application/octet-stream"],
        Some(bytes),
        true,
    )
}

#[test]
fn the_stand_in_answers_as_ecr_does() {
    let ecr = Ecr::start();
    // The challenge is Basic, with ECR's realm and service.
    let anonymous = registry(&ecr, "GET", "/v2/", &[], None, false);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate").as_deref(),
        Some(format!(r#"Basic realm="https://{HOST}/",service="ecr.amazonaws.com""#).as_str())
    );
    // Nothing creates a repository on push: the upload start to a missing one ends without an answer.
    let missing = registry(&ecr, "POST", "/v2/team/missing/blobs/uploads/", &[], None, true);
    assert_eq!(missing.status, 0, "the connection closes: {} {}", missing.headers, missing.body);
    assert_eq!(registry(&ecr, "HEAD", "/v2/team/missing/blobs/sha256:00", &[], None, true).status, 404);
    assert!(ecr.repositories().is_empty(), "no repository was made");

    ecr.moto.python("client('ecr').create_repository(repositoryName='team/app', imageTagMutability='IMMUTABLE')");
    // Zero bytes, and a digest that does not match: both BLOB_UPLOAD_INVALID, never DIGEST_INVALID.
    let empty_digest = ecr_ship::digest::sha256_digest(b"");
    let empty = upload(&ecr, "team/app", b"", &empty_digest);
    assert_eq!(empty.status, 400, "{}", empty.body);
    assert!(
        empty.body.contains("BLOB_UPLOAD_INVALID") && empty.body.contains("does not have any parts"),
        "{}",
        empty.body
    );
    let mismatch = upload(&ecr, "team/app", b"{}", &empty_digest);
    assert!(
        mismatch.body.contains("BLOB_UPLOAD_INVALID") && mismatch.body.contains("None of the provided"),
        "{}",
        mismatch.body
    );
    let config_digest = ecr_ship::digest::sha256_digest(b"{}");
    assert_eq!(upload(&ecr, "team/app", b"{}", &config_digest).status, 201);

    let manifest = |extra: &str| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":2{extra}}},"layers":[]}}"#
        )
    };
    let put = |tag: &str, bytes: &str| {
        registry(
            &ecr,
            "PUT",
            &format!("/v2/team/app/manifests/{tag}"),
            &["Content-Type: application/vnd.oci.image.manifest.v1+json"],
            Some(bytes.as_bytes()),
            true,
        )
    };
    // The strict schema: a spec-valid field ECR does not model is 405 UNSUPPORTED.
    let refused = put("annotated", &manifest(r#","annotations":{"a":"b"}"#));
    assert_eq!(refused.status, 405, "{}", refused.body);
    assert!(refused.body.contains("UNSUPPORTED") && refused.body.contains("Invalid JSON syntax"), "{}", refused.body);
    // A registry PUT is in the API's view when it is answered; an immutable tag does not move.
    assert_eq!(put("v1", &manifest("")).status, 201);
    let v1 = ecr_ship::digest::sha256_digest(manifest("").as_bytes());
    assert_eq!(ecr.api_tags("team/app").get("v1"), Some(&v1), "synchronous: no wait");
    let moved = put("v1", &manifest(r#","urls":["https://example.com/x"]"#));
    assert_eq!(moved.status, 400, "{}", moved.body);
    assert!(
        moved.body.contains("TAG_INVALID") && moved.body.contains("because the tag is immutable"),
        "{}",
        moved.body
    );
    assert_eq!(put("v1", &manifest("")).status, 201, "the same digest again is fine through the registry");
    // Manifest GET carries no Docker-Content-Digest.
    let pulled = registry(
        &ecr,
        "GET",
        "/v2/team/app/manifests/v1",
        &["Accept: application/vnd.oci.image.manifest.v1+json"],
        None,
        true,
    );
    assert_eq!(pulled.status, 200);
    assert_eq!(pulled.header("docker-content-digest"), None, "{}", pulled.headers);
    assert_eq!(pulled.body, manifest(""));
    // Through the API an immutable tag refuses even the same digest, with ECR's own exception.
    let again = Command::new(crate::support::moto::venv().join("bin/python"))
        .arg("-c")
        .arg(format!(
            "import boto3\nc = boto3.client('ecr', endpoint_url='http://127.0.0.1:{}', region_name='us-east-1', \
             aws_access_key_id='testing', aws_secret_access_key='testing')\ntry:\n    c.put_image(repositoryName='team/app', \
             imageManifest={:?}, imageTag='v1')\nexcept c.exceptions.ImageTagAlreadyExistsException:\n    print('refused')",
            ecr.moto.port,
            manifest("")
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "refused", "{}", String::from_utf8_lossy(&again.stderr));
}

fn push_ship(ecr: &Ecr, cwd: &Path, repository: &str, source: &str, tags: &[String]) -> Ship {
    let mut ship = Ship::new(&["push", "--repository", repository, "--sha", SHA, "--branch", "main", "--from", source]);
    for tag in tags {
        ship = ship.arg("--tag").arg(tag.clone());
    }
    ship.against(ecr).cwd(cwd)
}

#[test]
fn an_expired_token_mid_push_ends_in_one_refresh_and_success() {
    let ecr = Ecr::start();
    let work = scratch_dir("fidelity-expiry");
    let digest = single_image_layout(&work.path().join("oci"), "expiry");
    ecr.moto.python("client('ecr').create_repository(repositoryName='team/app')");
    // The token the push gets expires after three registry requests: in the middle of the blob uploads.
    ecr.configure(json!({"next_token_requests": 3}));
    let run = push_ship(&ecr, work.path(), "team/app", "oci:oci", &["v1".into()]).run().success();
    assert!(ecr.stat("expired_token_answers") > 0, "the token did expire mid-push: {}", run.stderr);
    assert_eq!(ecr.stat("get_authorization_token"), 2, "exactly one refresh: {}", run.stderr);
    assert!(run.stderr.contains("retrying with fresh ones"), "{}", run.stderr);
    assert_eq!(ecr.pull_digest("team/app", "v1").as_deref(), Some(digest.as_str()));
}

#[test]
fn a_native_push_asks_the_api_which_blobs_are_stored_and_heads_none_on_the_registry() {
    let ecr = Ecr::start();
    let work = scratch_dir("fidelity-layer-checks");
    let digest = single_image_layout(&work.path().join("oci"), "checks");
    ecr.moto.python("client('ecr').create_repository(repositoryName='team/app')");
    let first = push_ship(&ecr, work.path(), "team/app", "oci:oci", &["v1".into()]).run().success();
    let checked = ecr.stat("layer_checks_api");
    assert!(checked >= 2, "the config and the layer were asked about through the API: {}", ecr.stats());
    assert_eq!(ecr.stat("blob_heads"), 0, "no blob was checked on the registry: {}", first.stderr);
    let uploads = ecr.stat("upload_starts");
    assert!(uploads >= 2, "the blobs the API did not know were uploaded: {}", ecr.stats());

    // The second push learns from the same call that everything is stored: no upload and still no HEAD.
    let again = push_ship(&ecr, work.path(), "team/app", "oci:oci", &["v2".into()]).run().success();
    assert_eq!(ecr.stat("layer_checks_api"), 2 * checked, "{}", again.stderr);
    assert_eq!((ecr.stat("blob_heads"), ecr.stat("upload_starts")), (0, uploads), "{}", again.stderr);
    assert_eq!(ecr.pull_digest("team/app", "v2").as_deref(), Some(digest.as_str()));
}

#[test]
fn throttled_put_image_eight_concurrent_matrix_pushes_of_three_tags_all_land() {
    let ecr = Ecr::start();
    let work = scratch_dir("fidelity-throttle");
    ecr.moto.python("client('ecr').create_repository(repositoryName='team/matrix')");
    // ECR's 10/s would need more jobs than two cores run at once to run out; a smaller budget makes the same
    // contention with eight.
    ecr.configure(json!({"put_image_rate": 3, "put_image_burst": 3}));
    let jobs: Vec<(String, String)> = (0..8)
        .map(|job| {
            let arch = format!("arch{job}");
            let mut layout = Layout::new(&work.path().join(&arch));
            let layers = [random_layer(&format!("matrix-{job}"), 20_000, true)];
            let manifest = layout.image(&layers, &arch);
            (arch, layout.name(manifest, "latest"))
        })
        .collect();
    let runs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(arch, _)| {
                let tags: Vec<String> = ["a", "b", "c"].iter().map(|t| format!("{arch}-{t}")).collect();
                let ship = push_ship(&ecr, work.path(), "team/matrix", &format!("oci:{arch}"), &tags);
                scope.spawn(move || ship.run())
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("push thread")).collect()
    });
    for run in &runs {
        assert_eq!(run.code, 0, "every job lands: {}", run.stderr);
    }
    assert!(ecr.stat("put_image_throttled") > 0, "the budget ran out at least once: {}", ecr.stats());
    assert!(runs.iter().any(|r| r.stderr.contains("throttled")), "a job waited out the throttling");
    let tags = ecr.api_tags("team/matrix");
    for (arch, digest) in &jobs {
        for tag in ["a", "b", "c"] {
            assert_eq!(tags.get(&format!("{arch}-{tag}")), Some(digest), "{arch}-{tag}: {tags:?}");
        }
    }
}

#[test]
fn a_zero_byte_blob_is_refused_before_any_upload() {
    let ecr = Ecr::start();
    let work = scratch_dir("fidelity-empty");
    let layout = Layout::new(&work.path().join("oci"));
    let (config, _) = layout.blob(b"");
    let layer = random_layer("empty-config", 10_000, true);
    let (layer_digest, layer_size) = layout.blob(&layer.blob);
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.feature.v1",
        "config": {"mediaType": "application/vnd.example.config.v1", "digest": config, "size": 0},
        "layers": [{"mediaType": layer.media_type, "digest": layer_digest, "size": layer_size}]});
    let (digest, size) = layout.blob(&serde_json::to_vec(&manifest).unwrap());
    let mut layout = layout;
    layout
        .name(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size}), "v1");
    ecr.moto.python("client('ecr').create_repository(repositoryName='team/app')");
    let run = push_ship(&ecr, work.path(), "team/app", "oci:oci", &["v1".into()]).run().fails_with(2, "zero-byte");
    assert!(run.stderr.contains(&config) && run.stderr.contains("application/vnd.oci.empty.v1+json"), "{}", run.stderr);
    assert_eq!(ecr.stat("upload_starts"), 0, "nothing was uploaded");
}

/// BatchDeleteImage as ECR answers it (docs/ecr-behaviour.md §19): at most 100 ids; a manifest an index lists is
/// refused with ImageReferencedByManifestList, also when the index goes in the same request; an untagged image
/// deleted by digest is answered in imageIds; and the registry follows the API at once.
#[test]
fn batch_delete_image_refuses_an_index_child_and_more_than_100_ids() {
    let ecr = Ecr::start();
    let work = scratch_dir("fidelity-delete");
    let mut layout = Layout::new(&work.path().join("oci"));
    let amd = layout.image(&[random_layer("delete-amd", 20_000, true)], "amd64");
    let arm = layout.image(&[random_layer("delete-arm", 20_000, true)], "arm64");
    let child = amd["digest"].as_str().unwrap().to_string();
    let index = layout.index(&[amd, arm]);
    let index_digest = layout.name(index, "latest");
    push_ship(&ecr, work.path(), "team/app", "oci:oci", &["release".into()]).arg("--create-repository").run().success();
    let delete = |ids: &str| {
        let text = ecr.moto.python(&format!(
            "try:\n    out = client('ecr').batch_delete_image(repositoryName='team/app', imageIds={ids})\n    \
             print(json.dumps({{'ids': out['imageIds'], 'failures': out['failures']}}))\nexcept Exception as e:\n    \
             print(json.dumps({{'error': e.response['Error']['Code']}}))"
        ));
        serde_json::from_str::<serde_json::Value>(text.trim()).unwrap()
    };

    let many = (0..101).map(|n| format!("{{'imageTag': 't{n}'}}")).collect::<Vec<_>>().join(",");
    assert_eq!(delete(&format!("[{many}]"))["error"], "InvalidParameterException");

    let refused = delete(&format!("[{{'imageDigest': '{child}'}}]"));
    assert_eq!(refused["failures"][0]["failureCode"], "ImageReferencedByManifestList", "{refused}");
    assert_eq!(refused["ids"], json!([]), "{refused}");
    let both = delete(&format!("[{{'imageDigest': '{index_digest}'}}, {{'imageDigest': '{child}'}}]"));
    assert_eq!(both["failures"][0]["failureCode"], "ImageReferencedByManifestList", "{both}");
    assert_eq!(both["ids"][0]["imageDigest"], index_digest.as_str(), "the index itself went: {both}");
    assert_eq!(ecr.pull_manifest("team/app", "release"), None, "the registry followed");
    assert!(ecr.pull_manifest("team/app", &child).is_some(), "the refused child is still there");

    // Its index gone, the untagged child goes, answered in imageIds, and the registry no longer serves it.
    let freed = delete(&format!("[{{'imageDigest': '{child}'}}]"));
    assert_eq!(freed["failures"], json!([]), "{freed}");
    assert_eq!(freed["ids"], json!([{"imageDigest": child}]), "{freed}");
    assert_eq!(ecr.pull_manifest("team/app", &child), None);
    assert!(!ecr.log().contains("Traceback"), "{}", ecr.log());
}

/// PutLifecyclePolicy refuses what ECR's lifecycle rules refuse (docs/ecr-behaviour.md §17), where moto stores any
/// text: a duplicate priority, a fifth wildcard, a tagged rule without patterns, an `any` rule ranked before
/// another, a count type or a storage class ECR does not have. Valid policies (the archive storage class's
/// transitions and ages too) are stored as sent.
#[test]
fn put_lifecycle_policy_refuses_what_ecr_refuses() {
    let ecr = Ecr::start();
    let untagged = r#"{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}"#;
    let tagged = |priority: u32, pattern: &str| {
        format!(
            r#"{{"rulePriority":{priority},"selection":{{"tagStatus":"tagged","tagPatternList":["{pattern}"],"countType":"imageCountMoreThan","countNumber":3}},"action":{{"type":"expire"}}}}"#
        )
    };
    let any_first = r#"{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}"#;
    let good = format!(r#"{{"rules":[{},{untagged}]}}"#, tagged(1, "*test*1*2*3"));
    let cases = [
        (good.clone(), "stored"),
        (format!(r#"{{"rules":[{},{}]}}"#, tagged(1, "a*"), tagged(1, "b*")), "rulePriority 1 is not unique"),
        (format!(r#"{{"rules":[{}]}}"#, tagged(1, "test*1*2*3*4*5*6")), "more than 4 wildcards"),
        (
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}"#.to_string(),
            "needs exactly one of tagPatternList",
        ),
        (format!(r#"{{"rules":[{any_first},{untagged}]}}"#), "highest rulePriority"),
        (
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"newest","countNumber":3},"action":{"type":"expire"}}]}"#.to_string(),
            "is not one of imageCountMoreThan",
        ),
        (
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","storageClass":"glacier","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}"#.to_string(),
            "storageClass 'glacier'",
        ),
        // The archive storage class is ECR's too: a transition by pull age, then an expiry in the archive.
        (
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","storageClass":"standard","countType":"sinceImagePulled","countUnit":"days","countNumber":90},"action":{"type":"transition","targetStorageClass":"archive"}}]}"#.to_string(),
            "stored",
        ),
        (
            format!(
                r#"{{"rules":[{untagged},{}]}}"#,
                untagged
                    .replace("\"rulePriority\":2", "\"rulePriority\":3")
                    .replace("\"tagStatus\"", "\"storageClass\":\"archive\",\"tagStatus\"")
                    .replace("sinceImagePushed", "sinceImageTransitioned")
            ),
            "stored",
        ),
    ];
    for (index, (text, expected)) in cases.iter().enumerate() {
        let answer = ecr.moto.python(&format!(
            "ecr = client('ecr')\nname = 'lifecycle/{index}'\necr.create_repository(repositoryName=name)\ntry:\n    \
             ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText={text:?})\n    \
             print('stored', ecr.get_lifecycle_policy(repositoryName=name)['lifecyclePolicyText'])\n\
             except ecr.exceptions.InvalidParameterException as error:\n    print(error.response['Error']['Message'])"
        ));
        assert!(answer.contains(expected), "{text}: {answer}");
        if *expected != "stored" {
            assert!(
                answer.starts_with(
                    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy \
                     validation failure: "
                ),
                "ECR's wording: {answer}"
            );
        }
    }
    assert!(ecr.stat("api_InvalidParameterException") >= 6, "{}", ecr.stats());
}
