//! The final report: a command's result on standard output and in the step-output files, and a failure's cause
//! chain on standard error.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::aws::Session;
use crate::aws::storage::{
    Footprint, public_repository_footprint, public_storage_price, repository_footprint, storage_line, storage_price,
    storage_summary,
};
use crate::ci::{self, EnvMap};
use crate::config::{OutputSettings, Reporting, StorageSettings};
use crate::host::ImageRegistry;
use crate::log;
use crate::oci;
use crate::outputs::{self, ImageOutputs, OutputTargets};
use crate::tag_policy::TagAction;

use super::registry_client::manifest_from_registry;

/// Prints the whole cause chain on stderr, and an annotation when running in GitHub Actions; each message on one
/// line, its values cut and escaped ([`crate::error::printable`]).
pub fn failure(error: &anyhow::Error, env: &EnvMap) {
    log::error_chain(error);
    if ci::in_github_actions(env) {
        let chain: Vec<String> = error.chain().map(|cause| crate::error::printable(&cause.to_string())).collect();
        log::github_error(&chain.join(": "));
    }
}

/// Writes the file outputs and the result on standard output (the image URI, `export` lines, or JSON).
pub fn image(
    result: &ImageOutputs,
    outputs: &OutputSettings,
    reporting: &Reporting,
    title: &str,
    cwd: &Path,
    stdout: &mut dyn Write,
) -> anyhow::Result<()> {
    outputs::write_files(result, &outputs.targets, title, cwd)?;
    let text = if reporting.json {
        format!("{}\n", result.to_json())
    } else if outputs.export {
        outputs::export_lines(result)
    } else {
        format!("{}\n", result.image_uri())
    };
    stdout.write_all(text.as_bytes()).context("writing to standard output")
}

/// One log line per planned tag: written, already there, or skipped.
pub fn tag_actions(actions: &[(String, TagAction)], digest: &str, github: bool) {
    for (tag, action) in actions {
        match action {
            TagAction::Put => log::info(format!("tag {tag} -> {digest}")),
            TagAction::Present => log::info(format!("tag {tag} already points at {digest}")),
            TagAction::Skipped { existing } => log::warn(
                format!(
                    "skipped tag {tag}: it points at {existing} and the repository does not let it move (--skip-existing)"
                ),
                github,
            ),
        }
    }
}

/// The repository's stored size (each layer once) and the month's storage price: a log line and a section of the job
/// summary, after a push or a prune (`manifests_read_anyway`: the command read every manifest already, see
/// [`StorageSettings::wanted`]). It never fails the command: a measurement that fails (a role without
/// ecr:DescribeImages, say) is one warning. An ECR Public repository (never pruned, so measured only when asked) is
/// read through its registry and shown against the free tier.
pub async fn storage(
    session: &Session,
    repository: &str,
    settings: &StorageSettings,
    targets: &OutputTargets,
    github: bool,
    manifests_read_anyway: bool,
) {
    if !settings.wanted(targets.github_summary.is_some(), manifests_read_anyway) {
        return;
    }
    let (price, measured) = if session.is_public() {
        (public_storage_price(settings.price_per_gb), public_footprint(session, repository).await)
    } else {
        (storage_price(session.region(), settings.price_per_gb), repository_footprint(session, repository).await)
    };
    match measured {
        Ok(footprint) => {
            log::info(storage_line(repository, &footprint, &price));
            if let Err(error) = outputs::append_summary(&storage_summary(repository, &footprint, &price), targets) {
                log::warn(format!("the storage summary was not written: {error:#}"), github);
            }
        }
        Err(error) => log::warn(format!("no storage summary: {error:#} (--storage-summary false skips it)"), github),
    }
}

/// The footprint of an ECR Public repository, its manifests read from the registry with the session's token (one
/// GET a manifest, by digest, checked against it; a manifest gone meanwhile counts as not stored).
async fn public_footprint(session: &Session, repository: &str) -> anyhow::Result<Footprint> {
    let alias = session.public_alias().await?.context("an ECR Public session without a registry alias")?;
    let token = session.authorization_token().await?;
    let credentials =
        oci::Credentials { username: token.username.clone(), password: token.password.expose().to_string() };
    let registry = ImageRegistry::public(&alias);
    let client = oci::Registry::new(
        &format!("https://{}", registry.host()),
        &registry.repository_path(repository),
        Arc::new(oci::StaticAuth(credentials)),
    )?;
    let client = &client;
    public_repository_footprint(session, repository, |digest| async move {
        match manifest_from_registry(client, &digest).await {
            Ok(manifest) => Ok(Some(manifest.bytes)),
            Err(error) if matches!(error.downcast_ref(), Some(oci::Error::Status { status: 404, .. })) => Ok(None),
            Err(error) => Err(error),
        }
    })
    .await
}

/// Text lines on standard output.
pub fn lines(lines: &[String], stdout: &mut dyn Write) -> anyhow::Result<()> {
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    stdout.write_all(text.as_bytes()).context("writing to standard output")
}
