//! The ECR calls of `ecr-ship prune`: every image of a repository with its tags and push time (DescribeImages, all
//! pages), the manifest of each (BatchGetImage by digest, at most 100 ids a call, all four manifest kinds
//! accepted), and BatchDeleteImage (at most 100 ids a call, one call after another). Throttling is retried by the
//! SDK's standard retry, which the session configures for every call. What to delete is the pure `prune` module's
//! call; this file only reads and deletes.

use std::collections::BTreeMap;

use aws_sdk_ecr::types::ImageIdentifier;

use super::ecr::EcrApi;
use crate::media_type::MANIFEST_MEDIA_TYPES;
use crate::prune::{ImageRef, MAX_IDS_PER_CALL, ManifestFacts, StoredImage};

/// An image id BatchDeleteImage did not delete, with ECR's failure code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteFailure {
    pub image: ImageRef,
    pub code: String,
    pub reason: String,
}

/// Every image of `repository`, its manifest read.
pub(super) async fn repository_images(api: &EcrApi, repository: &str) -> anyhow::Result<Vec<StoredImage>> {
    let (client, registry_id) = (&api.client, api.registry_account());
    let mut listed: Vec<(String, Vec<String>, Option<i64>)> = Vec::new();
    let mut pages = client
        .describe_images()
        .set_registry_id(registry_id.map(String::from))
        .repository_name(repository)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| api.explain("DescribeImages", "ecr:DescribeImages", repository, e))?;
        for detail in page.image_details() {
            let Some(digest) = detail.image_digest() else { continue };
            let pushed_at = detail.image_pushed_at().map(|at| at.secs());
            listed.push((digest.to_string(), detail.image_tags().to_vec(), pushed_at));
        }
    }
    let digests: Vec<String> = listed.iter().map(|(digest, _, _)| digest.clone()).collect();
    let mut manifests = manifests(api, repository, &digests).await?;
    let mut images = Vec::new();
    for (digest, tags, pushed_at) in listed {
        // Gone between the listing and the read (another job pruned it): nothing to plan for.
        let Some(manifest) = manifests.remove(&digest) else { continue };
        images.push(StoredImage { digest, tags, pushed_at, manifest });
    }
    Ok(images)
}

/// The manifests of `digests`, read with BatchGetImage; an image that no longer exists is left out.
async fn manifests(
    api: &EcrApi,
    repository: &str,
    digests: &[String],
) -> anyhow::Result<BTreeMap<String, ManifestFacts>> {
    let (client, registry_id) = (&api.client, api.registry_account());
    let mut found = BTreeMap::new();
    for chunk in digests.chunks(MAX_IDS_PER_CALL) {
        let ids = chunk.iter().map(|digest| ImageIdentifier::builder().image_digest(digest).build()).collect();
        let output = client
            .batch_get_image()
            .set_registry_id(registry_id.map(String::from))
            .repository_name(repository)
            .set_image_ids(Some(ids))
            .set_accepted_media_types(Some(MANIFEST_MEDIA_TYPES.iter().map(|m| m.to_string()).collect()))
            .send()
            .await
            .map_err(|e| api.explain("BatchGetImage", "ecr:BatchGetImage", repository, e))?;
        for image in output.images() {
            let Some(digest) = image.image_id().and_then(|id| id.image_digest()) else { continue };
            let Some(bytes) = image.image_manifest() else { continue };
            let facts = ManifestFacts::parse(bytes).map_err(|problem| {
                anyhow::anyhow!(
                    "reading the manifest of {digest} in '{repository}' to plan the prune: {problem}; nothing was \
                     deleted"
                )
            })?;
            found.insert(digest.to_string(), facts);
        }
        for failure in output.failures() {
            let code = failure.failure_code().map(|c| c.as_str()).unwrap_or("unknown");
            if code == "ImageNotFound" {
                continue;
            }
            let digest = failure.image_id().and_then(|id| id.image_digest()).unwrap_or("an image");
            anyhow::bail!(
                "BatchGetImage could not read the manifest of {digest} in '{repository}' ({code}: {}); the prune \
                 needs every manifest to know what an index or an attestation still uses, so nothing was deleted",
                failure.failure_reason().unwrap_or("no reason given")
            );
        }
    }
    Ok(found)
}

/// Every tag of `repository` now, by digest (ListImages, all pages): what a delete wave checks against its plan.
/// ListImages reads no manifest, so it records no pull.
pub(super) async fn current_tags(
    api: &EcrApi,
    repository: &str,
) -> anyhow::Result<BTreeMap<String, std::collections::BTreeSet<String>>> {
    let (client, registry_id) = (&api.client, api.registry_account());
    let mut tags: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut pages = client
        .list_images()
        .set_registry_id(registry_id.map(String::from))
        .repository_name(repository)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| api.explain("ListImages", "ecr:ListImages", repository, e))?;
        for id in page.image_ids() {
            let Some(digest) = id.image_digest() else { continue };
            let entry = tags.entry(digest.to_string()).or_default();
            if let Some(tag) = id.image_tag() {
                entry.insert(tag.to_string());
            }
        }
    }
    Ok(tags)
}

/// Deletes `images` from `repository` with BatchDeleteImage, at most 100 ids a call. An id ECR no longer finds
/// was deleted already (a re-run, or another job) and is no failure; every other failure is returned.
pub(super) async fn delete_images(
    api: &EcrApi,
    repository: &str,
    images: &[ImageRef],
) -> anyhow::Result<Vec<DeleteFailure>> {
    let (client, registry_id) = (&api.client, api.registry_account());
    let mut failures = Vec::new();
    for chunk in images.chunks(MAX_IDS_PER_CALL) {
        let ids = chunk
            .iter()
            .map(|image| match image {
                ImageRef::Digest(digest) => ImageIdentifier::builder().image_digest(digest).build(),
                ImageRef::Tag(tag) => ImageIdentifier::builder().image_tag(tag).build(),
            })
            .collect();
        let output = client
            .batch_delete_image()
            .set_registry_id(registry_id.map(String::from))
            .repository_name(repository)
            .set_image_ids(Some(ids))
            .send()
            .await
            .map_err(|e| api.explain("BatchDeleteImage", "ecr:BatchDeleteImage", repository, e))?;
        for failure in output.failures() {
            let code = failure.failure_code().map(|c| c.as_str().to_string()).unwrap_or_else(|| "unknown".into());
            if code == "ImageNotFound" {
                continue;
            }
            // The id as it was asked for: ECR may answer a tag's failure with the digest beside it.
            let id = failure.image_id();
            let tag = id.and_then(|i| i.image_tag()).map(|t| ImageRef::Tag(t.to_string()));
            let digest = id.and_then(|i| i.image_digest()).map(|d| ImageRef::Digest(d.to_string()));
            let asked = [tag, digest].into_iter().flatten().find(|candidate| chunk.contains(candidate));
            let image = asked.unwrap_or_else(|| ImageRef::Tag(String::new()));
            let reason = failure.failure_reason().unwrap_or("no reason given").to_string();
            failures.push(DeleteFailure { image, code, reason });
        }
    }
    Ok(failures)
}
