//! Images already in an ECR repository: which planned tags exist, whether a tag may be (re)written, and
//! server-side tagging with BatchGetImage + PutImage.
//!
//! Re-runs are the normal case in CI, so tagging is idempotent: a tag that already points at the same digest is
//! reported as present (ECR answers `ImageAlreadyExistsException` there, even on mutable repositories), and a tag
//! that points at another image in an immutable repository is refused before anything is uploaded, or skipped with
//! `--skip-existing`. Exclusion filters of the `*_WITH_EXCLUSION` modes are honoured.

use std::collections::BTreeMap;

use anyhow::Context;
use aws_sdk_ecr::types::{ImageIdentifier, ImageTagMutabilityExclusionFilter};

use crate::aws::Session;

pub use crate::media_type::MANIFEST_MEDIA_TYPES;

/// A manifest as stored: its exact bytes (never re-serialised, or the digest would change) and media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    pub bytes: String,
    pub media_type: String,
    pub digest: String,
}

impl StoredManifest {
    pub fn new(bytes: String, media_type: Option<String>) -> StoredManifest {
        let digest = digest_of(bytes.as_bytes());
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

pub use crate::digest::{is_digest, sha256_digest as digest_of};

/// A repository's tag mutability and its exclusion filters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mutability {
    /// MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.
    pub mode: String,
    pub exclusions: Vec<String>,
}

impl Mutability {
    /// Whether an existing `tag` may be moved to another image.
    pub fn may_overwrite(&self, tag: &str) -> bool {
        let excluded = self.exclusions.iter().any(|filter| wildcard_match(filter, tag));
        match self.mode.as_str() {
            "IMMUTABLE" => false,
            "IMMUTABLE_WITH_EXCLUSION" => excluded,
            "MUTABLE_WITH_EXCLUSION" => !excluded,
            _ => true,
        }
    }

    pub fn from_sdk(mode: Option<&str>, filters: &[ImageTagMutabilityExclusionFilter]) -> Mutability {
        Mutability {
            mode: mode.unwrap_or("MUTABLE").to_string(),
            exclusions: filters.iter().map(|f| f.filter().to_string()).collect(),
        }
    }
}

/// ECR's WILDCARD filter: `*` matches any run of characters, everything else matches itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

/// What to do with one planned tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagAction {
    /// Write the tag (new, or movable).
    Put,
    /// Already points at this image: nothing to do.
    Present,
    /// Points at another image and may not move; skipped on the user's request.
    Skipped { existing: String },
}

/// Decides every tag before anything is uploaded. A tag that points at another image and may not move is an error
/// naming the tag, unless `skip_existing`.
pub fn plan_tags(
    tags: &[String],
    existing: &BTreeMap<String, String>,
    digest: Option<&str>,
    mutability: &Mutability,
    skip_existing: bool,
    repository: &str,
) -> anyhow::Result<Vec<(String, TagAction)>> {
    let mut actions = Vec::with_capacity(tags.len());
    for tag in tags {
        let action = match existing.get(tag) {
            None => TagAction::Put,
            Some(current) if Some(current.as_str()) == digest => TagAction::Present,
            Some(_) if mutability.may_overwrite(tag) => TagAction::Put,
            Some(current) if skip_existing => TagAction::Skipped { existing: current.clone() },
            Some(current) => anyhow::bail!(
                "tag '{tag}' already points at {current} in the {mode} repository '{repository}' and cannot be moved; \
                 nothing was uploaded. Use commit-hash tags (the default `sha-<hex>`), add '{tag}' to the repository's \
                 mutability exclusion filters (--tag-mutability IMMUTABLE_WITH_EXCLUSION --mutability-exclusion '{tag}'), \
                 or pass --skip-existing to skip such tags",
                mode = mutability.mode
            ),
        };
        actions.push((tag.clone(), action));
    }
    Ok(actions)
}

/// The digest each of `tags` points at now (absent tags are left out).
///
/// One BatchGetImage per tag, run concurrently: the response's `imageId` is not a reliable key for which requested
/// tag an image answers (moto, for one, reports the image's latest tag instead), so each answer must belong to
/// exactly one question.
pub async fn existing_tags(
    session: &Session,
    repository: &str,
    tags: &[String],
) -> anyhow::Result<BTreeMap<String, String>> {
    let (client, registry_id) = (session.ecr_client(), Some(session.registry_account()));
    let lookups = tags.iter().map(|tag| async move {
        let output = client
            .batch_get_image()
            .set_registry_id(registry_id.map(String::from))
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .set_accepted_media_types(Some(MANIFEST_MEDIA_TYPES.iter().map(|m| m.to_string()).collect()))
            .send()
            .await
            .map_err(|e| session.explain("BatchGetImage", "ecr:BatchGetImage", repository, e))?;
        let digest = output.images().first().and_then(|i| i.image_id()).and_then(|id| id.image_digest());
        anyhow::Ok(digest.map(|d| (tag.clone(), d.to_string())))
    });
    Ok(futures_util::future::try_join_all(lookups).await?.into_iter().flatten().collect())
}

/// Reads a stored manifest by tag or digest.
pub async fn get_manifest(session: &Session, repository: &str, reference: &str) -> anyhow::Result<StoredManifest> {
    let (client, registry_id) = (session.ecr_client(), Some(session.registry_account()));
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
        .map_err(|e| session.explain("BatchGetImage", "ecr:BatchGetImage", repository, e))?;
    let Some(image) = output.images().first() else {
        let reason = output.failures().first().and_then(|f| f.failure_reason()).unwrap_or("image not found");
        anyhow::bail!("no image '{reference}' in repository '{repository}': {reason}");
    };
    let bytes = image.image_manifest().context("BatchGetImage returned an image without its manifest")?.to_string();
    Ok(StoredManifest::new(bytes, image.image_manifest_media_type().map(String::from)))
}

/// Points `tag` at `manifest` with PutImage. Returns false when the tag already pointed at it.
pub async fn put_tag(
    session: &Session,
    repository: &str,
    manifest: &StoredManifest,
    tag: &str,
) -> anyhow::Result<bool> {
    let (client, registry_id) = (session.ecr_client(), Some(session.registry_account()));
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
                let now = existing_tags(session, repository, &[tag.to_string()]).await?;
                if now.get(tag) == Some(&manifest.digest) {
                    return Ok(false);
                }
                anyhow::bail!(
                    "tag '{tag}' in '{repository}' points at {} and the repository does not let it move (PutImage: {})",
                    now.get(tag).map_or("another image", String::as_str),
                    if immutable { "ImageTagAlreadyExistsException" } else { "ImageAlreadyExistsException" }
                );
            }
            Err(session.explain("PutImage", "ecr:PutImage", repository, error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (pattern, text, expected) in [
            ("latest", "latest", true),
            ("latest", "latest2", false),
            ("main*", "main-abc", true),
            ("*-dev", "feature-dev", true),
            ("*", "anything", true),
            ("v*.*", "v1.2", true),
            ("v*.*", "v12", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
        ] {
            assert_eq!(wildcard_match(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn mutability_rules() {
        let m = |mode: &str, ex: &[&str]| Mutability {
            mode: mode.into(),
            exclusions: ex.iter().map(|s| s.to_string()).collect(),
        };
        assert!(m("MUTABLE", &[]).may_overwrite("x"));
        assert!(!m("IMMUTABLE", &["x"]).may_overwrite("x"));
        assert!(m("IMMUTABLE_WITH_EXCLUSION", &["latest", "main*"]).may_overwrite("main-1"));
        assert!(!m("IMMUTABLE_WITH_EXCLUSION", &["latest"]).may_overwrite("v1"));
        assert!(!m("MUTABLE_WITH_EXCLUSION", &["v*"]).may_overwrite("v1"));
        assert!(m("MUTABLE_WITH_EXCLUSION", &["v*"]).may_overwrite("main"));
    }

    #[test]
    fn tag_plans() {
        let tags: Vec<String> = ["sha-1", "main", "v1"].iter().map(|s| s.to_string()).collect();
        let existing: BTreeMap<String, String> = [("sha-1", "sha256:aa"), ("main", "sha256:bb"), ("v1", "sha256:cc")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let immutable = Mutability { mode: "IMMUTABLE_WITH_EXCLUSION".into(), exclusions: vec!["main".into()] };
        let error = plan_tags(&tags, &existing, Some("sha256:aa"), &immutable, false, "team/app").unwrap_err();
        assert_eq!(crate::error::exit_code(&error), 1, "found on the server, so not exit 2 (nothing contacted)");
        assert!(error.to_string().contains("tag 'v1' already points at sha256:cc"), "{error}");
        let skipped = plan_tags(&tags, &existing, Some("sha256:aa"), &immutable, true, "team/app").unwrap();
        assert_eq!(
            skipped,
            vec![
                ("sha-1".to_string(), TagAction::Present),
                ("main".to_string(), TagAction::Put),
                ("v1".to_string(), TagAction::Skipped { existing: "sha256:cc".into() })
            ]
        );
        let mutable = Mutability { mode: "MUTABLE".into(), exclusions: vec![] };
        let all = plan_tags(&tags, &BTreeMap::new(), None, &mutable, false, "r").unwrap();
        assert!(all.iter().all(|(_, a)| *a == TagAction::Put));
    }

    #[test]
    fn manifests_keep_their_bytes() {
        let bytes = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        let manifest = StoredManifest::new(bytes.into(), None);
        assert_eq!(manifest.media_type, "application/vnd.oci.image.index.v1+json");
        assert_eq!(manifest.digest, digest_of(bytes.as_bytes()));
        assert!(is_digest(&manifest.digest));
        let no_type = StoredManifest::new(
            r#"{"schemaVersion":2}"#.into(),
            Some("application/vnd.oci.image.manifest.v1+json".into()),
        );
        assert_eq!(no_type.media_type, "application/vnd.oci.image.manifest.v1+json");
    }
}
