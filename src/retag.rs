//! `ecr-ship retag SOURCE NEW_TAG...`: promote an image already in ECR to new tags, server-side.
//!
//! BatchGetImage reads the manifest's exact bytes and media type (all four manifest kinds are accepted, so indexes
//! and OCI manifests without a `mediaType` field work), PutImage writes it under each new tag with
//! `imageManifestMediaType` and `imageDigest`. No pull, no engine. Idempotent and immutability-aware as push is.

use std::io::Write;
use std::path::Path;

use crate::ci::{self, EnvMap};
use crate::cli::RetagArgs;
use crate::images::{self, Mutability, TagAction};
use crate::outputs::ImageOutputs;
use crate::settings::{self, ConfigFile};
use crate::{app, bail_input, log, names};

pub async fn run(args: &RetagArgs, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let target = settings::target(&args.common, &file);
    let Some(repository) = target.repository.clone() else {
        bail_input!("retag needs --repository");
    };
    names::validate_repository(&repository)?;
    if !images::is_digest(&args.source) {
        names::validate_tag(&args.source)
            .map_err(|e| e.context("SOURCE_TAG_OR_DIGEST is neither a tag nor a sha256 digest"))?;
    }
    for tag in &args.new_tags {
        names::validate_tag(tag)?;
    }
    let (targets, export) = settings::output_targets(&args.outputs, &file, env);
    let plan = app::aws_plan(&args.common, &args.aws, &file, env)?;
    let github = ci::var(env, "GITHUB_ACTIONS") == Some("true");

    let session = plan.connect(env).await?;
    let Some(info) = session.describe_repository(&repository).await? else {
        anyhow::bail!("repository '{repository}' does not exist in {}", session.region());
    };
    let manifest = images::get_manifest(&session, &repository, &args.source).await?;
    let mutability = Mutability { mode: info.tag_mutability.clone(), exclusions: info.exclusion_filters.clone() };
    let existing = images::existing_tags(&session, &repository, &args.new_tags).await?;
    let skip = args.skip_existing.or(file.skip_existing).unwrap_or(false);
    let actions = images::plan_tags(&args.new_tags, &existing, Some(&manifest.digest), &mutability, skip, &repository)?;
    let mut tags = Vec::new();
    for (tag, action) in &actions {
        match action {
            TagAction::Put => {
                let written = images::put_tag(&session, &repository, &manifest, tag).await?;
                log::info(if written {
                    format!("tag {tag} -> {}", manifest.digest)
                } else {
                    format!("tag {tag} already points at {}", manifest.digest)
                });
                tags.push(tag.clone());
            }
            TagAction::Present => {
                log::info(format!("tag {tag} already points at {}", manifest.digest));
                tags.push(tag.clone());
            }
            TagAction::Skipped { existing } => log::warn(
                format!("skipped tag {tag}: it points at {existing} and the repository does not let it move"),
                github,
            ),
        }
    }
    let host = info.uri.split('/').next().unwrap_or_default().to_string();
    let result = ImageOutputs {
        registry: Some(host),
        repository,
        tags,
        digest: Some(manifest.digest.clone()),
        tag_mutability: Some(info.tag_mutability.clone()),
    };
    app::finish(&result, &targets, export, target.json, "retagged", cwd, stdout)
}
