//! `ecr-ship push` end to end through the real binary, against the local ECR (moto + docker-registry joined by the
//! bridge) reached by its real host name inside a mount namespace: native pushes from OCI layouts, docker archives
//! and multi-arch indexes, re-run idempotence, immutable conflicts with nothing uploaded, --skip-existing, and every
//! pushed tag pulled back with the same digest.

use std::path::Path;

use crate::support::ecr::{Ecr, HOST};
use crate::support::images::{Layout, random_layer};
use crate::support::{Ship, moto::PASSWORD, scratch_dir};

pub const SHA: &str = "3f786850e387550fdab836ed7e6dc881de23001b";

/// An OCI layout with one single-platform image named `latest`; returns its manifest digest.
pub fn single_image_layout(dir: &Path, seed: &str) -> String {
    let mut layout = Layout::new(dir);
    let layers = [random_layer(&format!("{seed}-a"), 40_000, true), random_layer(&format!("{seed}-b"), 70_000, false)];
    let manifest = layout.image(&layers, "amd64");
    layout.name(manifest, "latest")
}

fn push(ecr: &Ecr, cwd: &Path, args: &[&str]) -> crate::support::Run {
    Ship::new(&["push", "--repository", "team/app", "--sha", SHA, "--branch", "main"])
        .args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        .against(ecr)
        .cwd(cwd)
        .run()
}

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
