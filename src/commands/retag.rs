//! `ecr-ship retag SOURCE NEW_TAG...`: promote an image already in ECR to new tags, server-side.
//!
//! BatchGetImage reads the manifest's exact bytes and media type (all four manifest kinds are accepted, so indexes
//! and OCI manifests without a `mediaType` field work), PutImage writes it under each new tag with
//! `imageManifestMediaType` and `imageDigest`. No pull, no engine. Idempotent and immutability-aware as push is.
//! ECR Public's API has no BatchGetImage: there the manifest is read from the registry (one GET, through the
//! Bearer token exchange), and PutImage is ECR Public's.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::registry_client::{manifest_from_registry, registry_client};
use super::report;
use crate::ci::EnvMap;
use crate::config::RetagSettings;
use crate::error::after_contact;
use crate::host::ImageRegistry;
use crate::outputs::ImageOutputs;
use crate::tag_policy::{self, TagAction};

pub async fn run(settings: &RetagSettings, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let result = act(settings, env).await.map_err(after_contact)?;
    report::image(&result, &settings.outputs, &settings.reporting, "retagged", cwd, stdout)
}

async fn act(settings: &RetagSettings, env: &EnvMap) -> anyhow::Result<ImageOutputs> {
    let repository = settings.repository.as_str();
    let session = Arc::new(settings.aws.connect(env).await?);
    let Some(info) = session.describe_repository(repository).await? else {
        match session.public_alias().await? {
            Some(alias) => anyhow::bail!("repository '{repository}' does not exist in public.ecr.aws/{alias}"),
            None => anyhow::bail!("repository '{repository}' does not exist in {}", session.region()),
        }
    };
    let (manifest, registry) = match session.public_alias().await? {
        Some(alias) => {
            let registry = ImageRegistry::public(&alias);
            let token = session.authorization_token().await?;
            let client = registry_client(&registry, repository, session.clone(), &token)?;
            (manifest_from_registry(&client, &settings.source).await?, registry.name())
        }
        None => (
            session.get_manifest(repository, &settings.source).await?,
            info.uri.split('/').next().unwrap_or_default().to_string(),
        ),
    };
    let mutability = info.mutability();
    let existing = session.existing_tags(repository, &settings.new_tags).await?;
    let mut actions = tag_policy::decide_tags(
        &settings.new_tags,
        &existing,
        Some(&manifest.digest),
        &mutability,
        settings.skip_existing,
        repository,
    )?;
    for (tag, action) in &mut actions {
        if *action == TagAction::Put && !session.put_tag(repository, &manifest, tag).await? {
            *action = TagAction::Present;
        }
    }
    report::tag_actions(&actions, &manifest.digest, settings.reporting.github);
    let tags = actions.iter().filter(|(_, a)| !matches!(a, TagAction::Skipped { .. })).map(|(t, _)| t.clone());
    Ok(ImageOutputs {
        registry: Some(registry),
        repository: repository.to_string(),
        tags: tags.collect(),
        digest: Some(manifest.digest.clone()),
        tag_mutability: Some(info.tag_mutability.clone()),
        labels: Vec::new(),
        annotations: Vec::new(),
    })
}
