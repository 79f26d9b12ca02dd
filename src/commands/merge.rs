//! `ecr-ship merge --repository R SOURCE...`: join images already in the repository into one multi-platform index,
//! put server-side under the planned tags. The second half of a matrix build: each platform is pushed natively on
//! its own runner with `push --by-digest`, and one job merges the digests.
//!
//! Each source is read with its exact bytes (BatchGetImage; from the registry for ECR Public); a single-platform
//! image becomes one child whose platform its config blob names, an index gives all its children. The index
//! (`oci::build_index`: OCI, or a Docker manifest list when every child is Docker schema 2) is put with PutImage
//! under each planned tag, with push's idempotence and immutability rules. No blob moves and no engine is needed.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::registry_client::{image_registry, manifest_from_registry, registry_client};
use super::report;
use crate::aws::{Session, StoredManifest};
use crate::ci::EnvMap;
use crate::config::MergeSettings;
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
    let result = act(settings, &tags, env).await.map_err(after_contact)?;
    report::image(&result, &settings.outputs, &settings.reporting, "merged", cwd, stdout)
}

async fn act(settings: &MergeSettings, tags: &[String], env: &EnvMap) -> anyhow::Result<ImageOutputs> {
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
        registry: Some(registry.name()),
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
