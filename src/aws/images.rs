//! Images already in an ECR repository: which planned tags exist (BatchGetImage), which blobs are stored
//! (BatchCheckLayerAvailability), a stored manifest's exact bytes, and server-side tagging with PutImage. Whether a tag may be written is the pure `tag_policy`'s call.

use std::collections::{BTreeMap, HashSet};

use anyhow::Context;
use aws_sdk_ecr::types::ImageIdentifier;

use super::ecr::EcrApi;

use crate::digest::{is_digest, sha256_digest};
use crate::media_type::MANIFEST_MEDIA_TYPES;

/// A manifest as stored: its exact bytes (never re-serialised, or the digest would change) and media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    pub bytes: String,
    pub media_type: String,
    pub digest: String,
}

impl StoredManifest {
    pub fn new(bytes: String, media_type: Option<String>) -> StoredManifest {
        let digest = sha256_digest(bytes.as_bytes());
        let media_type = media_type
            .filter(|m| !m.is_empty())
            .or_else(|| {
                let parsed: serde_json::Value = serde_json::from_str(&bytes).ok()?;
                parsed.get("mediaType")?.as_str().map(String::from)
            })
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".to_string());
        StoredManifest { bytes, media_type, digest }
    }
}

/// The digest each of `tags` points at now (absent tags are left out; a missing repository has none).
///
/// One BatchGetImage per tag, run concurrently: the response's `imageId` is not a reliable key for which requested
/// tag an image answers (moto, for one, reports the image's latest tag instead), so each answer must belong to
/// exactly one question.
pub(super) async fn existing_tags(
    api: &EcrApi,
    repository: &str,
    tags: &[String],
) -> anyhow::Result<BTreeMap<String, String>> {
    let (client, registry_id) = (&api.client, api.registry_account());
    let lookups = tags.iter().map(|tag| async move {
        let output = client
            .batch_get_image()
            .set_registry_id(registry_id.map(String::from))
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .set_accepted_media_types(Some(MANIFEST_MEDIA_TYPES.iter().map(|m| m.to_string()).collect()))
            .send()
            .await;
        let output = match output {
            Ok(output) => output,
            // Asked alongside DescribeRepositories, so the repository may not exist (yet): then no tag does.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception()) => return Ok(None),
            Err(e) => return Err(api.explain("BatchGetImage", "ecr:BatchGetImage", repository, e)),
        };
        let digest = output.images().first().and_then(|i| i.image_id()).and_then(|id| id.image_digest());
        anyhow::Ok(digest.map(|d| (tag.clone(), d.to_string())))
    });
    Ok(futures_util::future::try_join_all(lookups).await?.into_iter().flatten().collect())
}

/// Which of `digests` (configs and layers) the repository already stores, by BatchCheckLayerAvailability: asked
/// alongside the token, so a push need not HEAD each blob on the registry before uploading it. A missing
/// repository stores none. At most 100 digests per call, the API's limit; the calls run concurrently.
pub(super) async fn present_blobs(
    api: &EcrApi,
    repository: &str,
    digests: &[String],
) -> anyhow::Result<HashSet<String>> {
    let (client, registry_id) = (&api.client, api.registry_account());
    let checks = digests.chunks(100).map(|chunk| async move {
        let output = client
            .batch_check_layer_availability()
            .set_registry_id(registry_id.map(String::from))
            .repository_name(repository)
            .set_layer_digests(Some(chunk.to_vec()))
            .send()
            .await;
        let output = match output {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception()) => {
                return Ok(Vec::new());
            }
            Err(e) => {
                return Err(api.explain(
                    "BatchCheckLayerAvailability",
                    "ecr:BatchCheckLayerAvailability",
                    repository,
                    e,
                ));
            }
        };
        let available = output
            .layers()
            .iter()
            .filter(|layer| layer.layer_availability().is_some_and(|a| a.as_str() == "AVAILABLE"))
            .filter_map(|layer| layer.layer_digest().map(String::from));
        anyhow::Ok(available.collect::<Vec<_>>())
    });
    Ok(futures_util::future::try_join_all(checks).await?.into_iter().flatten().collect())
}

/// Reads a stored manifest by tag or digest.
pub(super) async fn get_manifest(api: &EcrApi, repository: &str, reference: &str) -> anyhow::Result<StoredManifest> {
    let (client, registry_id) = (&api.client, api.registry_account());
    let id = if is_digest(reference) {
        ImageIdentifier::builder().image_digest(reference).build()
    } else {
        ImageIdentifier::builder().image_tag(reference).build()
    };
    let output = client
        .batch_get_image()
        .set_registry_id(registry_id.map(String::from))
        .repository_name(repository)
        .image_ids(id)
        .set_accepted_media_types(Some(MANIFEST_MEDIA_TYPES.iter().map(|m| m.to_string()).collect()))
        .send()
        .await
        .map_err(|e| api.explain("BatchGetImage", "ecr:BatchGetImage", repository, e))?;
    let Some(image) = output.images().first() else {
        let reason = output.failures().first().and_then(|f| f.failure_reason()).unwrap_or("image not found");
        anyhow::bail!("no image '{reference}' in repository '{repository}': {reason}");
    };
    let bytes = image.image_manifest().context("BatchGetImage returned an image without its manifest")?.to_string();
    Ok(StoredManifest::new(bytes, image.image_manifest_media_type().map(String::from)))
}

/// Points `tag` at `manifest` with PutImage. Returns false when the tag already pointed at it.
pub(super) async fn put_tag(
    api: &EcrApi,
    repository: &str,
    manifest: &StoredManifest,
    tag: &str,
) -> anyhow::Result<bool> {
    let (client, registry_id) = (&api.client, api.registry_account());
    let result = client
        .put_image()
        .set_registry_id(registry_id.map(String::from))
        .repository_name(repository)
        .image_manifest(&manifest.bytes)
        .image_manifest_media_type(&manifest.media_type)
        .image_digest(&manifest.digest)
        .image_tag(tag)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(error) => {
            let service = error.as_service_error();
            let already = service.is_some_and(|e| e.is_image_already_exists_exception());
            let immutable = service.is_some_and(|e| e.is_image_tag_already_exists_exception());
            if already || immutable {
                // ImageAlreadyExists also answers an immutable overwrite on some implementations: look, don't guess.
                let now = existing_tags(api, repository, &[tag.to_string()]).await?;
                if now.get(tag) == Some(&manifest.digest) {
                    return Ok(false);
                }
                anyhow::bail!(
                    "tag '{tag}' in '{repository}' points at {} and the repository does not let it move (PutImage: {})",
                    now.get(tag).map_or("another image", String::as_str),
                    if immutable { "ImageTagAlreadyExistsException" } else { "ImageAlreadyExistsException" }
                );
            }
            Err(api.explain("PutImage", "ecr:PutImage", repository, error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_keep_their_bytes() {
        let bytes = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        let manifest = StoredManifest::new(bytes.into(), None);
        assert_eq!(manifest.media_type, "application/vnd.oci.image.index.v1+json");
        assert_eq!(manifest.digest, sha256_digest(bytes.as_bytes()));
        assert!(is_digest(&manifest.digest));
        let no_type = StoredManifest::new(
            r#"{"schemaVersion":2}"#.into(),
            Some("application/vnd.oci.image.manifest.v1+json".into()),
        );
        assert_eq!(no_type.media_type, "application/vnd.oci.image.manifest.v1+json");
    }
}
