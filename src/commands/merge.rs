//! `ecr-ship merge --repository R SOURCE...`: join images already in the repository into one multi-platform index,
//! put server-side under the planned tags. The second half of a matrix build: each platform is pushed natively on
//! its own runner with `push --by-digest`, and one job merges the digests.
//!
//! Each source is read with its exact bytes (BatchGetImage; from the registry for ECR Public); a single-platform
//! image becomes one child whose platform its config blob names, an index gives all its children. The index
//! (`oci::build_index`: OCI, or a Docker manifest list when every child is Docker schema 2) is put with PutImage
//! under each planned tag, with push's idempotence and immutability rules. No blob moves and no engine is needed.
//!
//! Between reading and writing, the index's platforms are checked: against `--platforms` when given (a platform
//! missing or one too many is bad input, exit 2, although the sources were read: nothing was written), and a
//! one-platform index is warned about, since a "multi-arch" tag over one platform is usually a matrix leg lost.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::registry_client::{image_registry, manifest_from_registry, registry_client};
use super::report;
use crate::aws::{Session, StoredManifest};
use crate::ci::EnvMap;
use crate::config::{MergeSettings, Platform};
use crate::error::after_contact;
use crate::log;
use crate::oci::{self, Child, Contribution};
use crate::outputs::ImageOutputs;
use crate::tag_policy::{self, TagAction};

/// An image config is small JSON; anything larger is not one.
const CONFIG_LIMIT: usize = 8 * 1024 * 1024;

pub async fn run(settings: &MergeSettings, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let tags = settings.tags.plan()?;
    log::info(format!(
        "{}: merging {} into one index in '{}' as {}",
        settings.tags.context.origin(),
        settings.sources.join(", "),
        settings.repository,
        tags.join(", ")
    ));
    let read = read(settings, env).await.map_err(after_contact)?;
    // Not marked as after contact: the sources disagree with what the user said the index holds, and nothing has
    // been written, so this is bad input (exit 2), as the same mistake in the arguments would be.
    check_platforms(&read.children, &settings.platforms, settings.reporting.github)?;
    let result = write(settings, &tags, read).await.map_err(after_contact)?;
    report::image(&result, &settings.outputs, &settings.reporting, "merged", cwd, stdout)
}

/// What the sources hold, read before anything is written.
struct ReadSources {
    session: Arc<Session>,
    registry: String,
    info: crate::aws::RepositoryInfo,
    children: Vec<Child>,
}

async fn read(settings: &MergeSettings, env: &EnvMap) -> anyhow::Result<ReadSources> {
    let repository = settings.repository.as_str();
    let session = Arc::new(settings.aws.connect(env).await?);
    let described = async {
        session.describe_repository(repository).await?.with_context(|| {
            format!("repository '{repository}' does not exist: merge joins images already pushed there")
        })
    };
    let (token, info) = tokio::try_join!(session.authorization_token(), described)?;
    let registry = image_registry(&settings.aws, &session, &token).await?;
    let client = registry_client(&registry, repository, session.clone(), &token)?;

    let reads = settings.sources.iter().map(|source| read_source(&session, &client, repository, source));
    let manifests = futures_util::future::try_join_all(reads).await?;
    let mut children = Vec::new();
    for (source, manifest) in settings.sources.iter().zip(&manifests) {
        let what = format!("merge SOURCE '{source}' ({})", manifest.digest);
        match oci::contribution(manifest.bytes.as_bytes(), &manifest.media_type).context(what.clone())? {
            Contribution::Image { media_type, config_digest } => {
                let config = client.get_small_blob(&config_digest, CONFIG_LIMIT).await.context(what.clone())?;
                let platform = oci::platform_of_config(&config).context(what)?;
                children.push(Child {
                    media_type,
                    digest: manifest.digest.clone(),
                    size: manifest.bytes.len() as u64,
                    platform: Some(platform),
                    annotations: None,
                });
            }
            Contribution::Children(listed) => children.extend(listed),
        }
    }
    Ok(ReadSources { session, registry: registry.name(), info, children })
}

async fn write(settings: &MergeSettings, tags: &[String], read: ReadSources) -> anyhow::Result<ImageOutputs> {
    let repository = settings.repository.as_str();
    let ReadSources { session, registry, info, children } = read;
    let (bytes, media_type) = oci::build_index(&children)?;
    let index =
        StoredManifest::new(String::from_utf8(bytes).context("the index is not UTF-8")?, Some(media_type.into()));
    let platforms: Vec<String> =
        children.iter().map(|c| format!("{} {}", oci::platform_name(c.platform.as_ref()), c.digest)).collect();
    log::info(format!("index {} lists {}", index.digest, platforms.join(", ")));
    // The children's fields come from the server: an index ECR would refuse is a failure after contact (exit 1).
    oci::check_manifest(&index.digest, index.bytes.as_bytes())?;

    let existing = session.existing_tags(repository, tags).await?;
    let mut actions = tag_policy::decide_tags(
        tags,
        &existing,
        Some(&index.digest),
        &info.mutability(),
        settings.skip_existing,
        repository,
    )?;
    if actions.iter().all(|(_, a)| matches!(a, TagAction::Skipped { .. })) {
        anyhow::bail!(
            "nothing was merged into '{repository}': every planned tag points at another image and was skipped \
             (--skip-existing); plan a tag that can be written, such as the commit tag"
        );
    }
    for (tag, action) in &mut actions {
        if *action == TagAction::Put && !session.put_tag(repository, &index, tag).await? {
            *action = TagAction::Present;
        }
    }
    report::tag_actions(&actions, &index.digest, settings.reporting.github);
    let written = actions.iter().filter(|(_, a)| !matches!(a, TagAction::Skipped { .. })).map(|(t, _)| t.clone());
    Ok(ImageOutputs {
        registry: Some(registry),
        repository: repository.to_string(),
        tags: written.collect(),
        digest: Some(index.digest.clone()),
        tag_mutability: Some(info.tag_mutability.clone()),
        labels: Vec::new(),
        annotations: Vec::new(),
    })
}

/// A source's exact bytes: BatchGetImage, or the registry itself for ECR Public (its API cannot read manifests).
async fn read_source(
    session: &Session,
    client: &oci::Registry,
    repository: &str,
    source: &str,
) -> anyhow::Result<StoredManifest> {
    let read = if session.is_public() {
        manifest_from_registry(client, source).await
    } else {
        session.get_manifest(repository, source).await
    };
    read.with_context(|| format!("reading merge SOURCE '{source}' of '{repository}'"))
}

/// The platforms of the images the index lists (attestations, `unknown/unknown`, and entries without a platform
/// are not images of a platform), in order, each once.
fn image_platforms(children: &[Child]) -> Vec<Platform> {
    let mut platforms = Vec::new();
    for child in children {
        let Some(fields) = &child.platform else { continue };
        let field = |key: &str| fields.get(key).and_then(serde_json::Value::as_str).unwrap_or_default();
        let Some(platform) = Platform::of(field("os"), field("architecture"), Some(field("variant"))) else {
            continue;
        };
        if platform.as_str() != "unknown/unknown" && !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    platforms
}

/// `--platforms` against what the sources hold: anything missing or extra is bad input naming both lists. Without
/// `--platforms`, an index of one platform is warned about (with it, naming exactly that platform says it is meant).
fn check_platforms(children: &[Child], expected: &[Platform], github: bool) -> anyhow::Result<()> {
    let held = image_platforms(children);
    let list = |platforms: &[Platform]| {
        if platforms.is_empty() {
            "none".to_string()
        } else {
            platforms.iter().map(Platform::as_str).collect::<Vec<_>>().join(", ")
        }
    };
    if expected.is_empty() {
        if held.len() == 1 {
            log::warn(
                format!(
                    "the merged index holds one platform only ({}): if a matrix leg is missing, its digest never \
                     reached merge; pass --platforms (the action's `platforms` input) to make that an error, or \
                     --platforms {} to say one platform is meant",
                    held[0], held[0]
                ),
                github,
            );
        }
        return Ok(());
    }
    let missing: Vec<Platform> = expected.iter().filter(|p| !held.contains(p)).cloned().collect();
    let extra: Vec<Platform> = held.iter().filter(|p| !expected.contains(p)).cloned().collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing {}", list(&missing)));
    }
    if !extra.is_empty() {
        problems.push(format!("not asked for {}", list(&extra)));
    }
    Err(crate::error::bad_input(format!(
        "the sources hold {}, but --platforms asks for {} ({}); nothing was tagged: merge the sources of exactly \
         those platforms, or change --platforms",
        list(&held),
        list(expected),
        problems.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn child(digest: char, platform: serde_json::Value) -> Child {
        Child {
            media_type: crate::media_type::OCI_MANIFEST.into(),
            digest: format!("sha256:{}", digest.to_string().repeat(64)),
            size: 1,
            platform: platform.as_object().cloned(),
            annotations: None,
        }
    }

    fn platforms(names: &[&str]) -> Vec<Platform> {
        names.iter().map(|n| Platform::parse(n).unwrap()).collect()
    }

    #[test]
    fn the_index_must_hold_exactly_the_platforms_named() {
        let amd = child('a', json!({"os": "linux", "architecture": "amd64"}));
        let arm = child('b', json!({"os": "linux", "architecture": "arm64", "variant": "v8"}));
        let attestation = child('c', json!({"os": "unknown", "architecture": "unknown"}));
        let both = [amd.clone(), attestation.clone(), arm.clone()];
        assert_eq!(image_platforms(&both), platforms(&["linux/amd64", "linux/arm64"]), "attestations are no platform");
        assert!(check_platforms(&both, &platforms(&["linux/arm64", "linux/amd64"]), false).is_ok(), "any order");
        assert!(check_platforms(&both, &[], false).is_ok());

        let one = [amd.clone(), attestation];
        let error = check_platforms(&one, &platforms(&["linux/amd64", "linux/arm64"]), false).unwrap_err();
        assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT);
        let message = error.to_string();
        assert!(message.contains("hold linux/amd64, but --platforms asks for linux/amd64, linux/arm64"), "{message}");
        assert!(message.contains("missing linux/arm64") && !message.contains("not asked for"), "{message}");

        let arm7 = child('d', json!({"os": "linux", "architecture": "arm", "variant": "v7"}));
        let message = check_platforms(&[amd, arm, arm7], &platforms(&["linux/amd64", "linux/arm64"]), false)
            .unwrap_err()
            .to_string();
        assert!(message.contains("not asked for linux/arm/v7") && !message.contains("missing"), "{message}");
        assert!(
            check_platforms(&[], &platforms(&["linux/amd64"]), false).unwrap_err().to_string().contains("hold none")
        );
    }
}
