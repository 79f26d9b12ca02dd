//! `ecr-ship push`: the image source, the tags, the repository settings and the outputs, resolved and checked
//! into [`PushSettings`].

use std::path::Path;
use std::time::Duration;

use super::aws::aws_settings;
use super::common::{
    OutputSettings, Reporting, absolute_source, engine, file_and_repository, output_settings, reporting, time_limit,
};
use super::repository::{kms_key_in_partition, repository_settings, settings_fit_registry};
use super::scan::{ScanGateSettings, push_gate};
use super::tags::{TagSettings, tag_settings};
use crate::aws::{AwsSettings, RepositorySettings};
use crate::ci::EnvMap;
use crate::cli::PushArgs;
use crate::engine::EngineChoice;
use crate::oci::{Compression, ImageSource};
use crate::{bail_input, ci, names};

/// Where a pushed image comes from, checked.
#[derive(Debug, Clone)]
pub enum SourceSettings {
    /// A local image pushed through docker or podman.
    Engine { engine: EngineChoice, image: String },
    /// An OCI layout or docker archive pushed natively.
    Native(ImageSource),
}

#[derive(Debug)]
pub struct PushSettings {
    pub repository: String,
    pub tags: TagSettings,
    pub source: SourceSettings,
    pub aws: AwsSettings,
    pub repository_settings: RepositorySettings,
    pub create_repository: bool,
    pub update_repository: bool,
    pub skip_existing: bool,
    /// Write the annotations into the pushed manifest or index (native sources only).
    pub annotate: bool,
    /// Push under no tag, by digest only.
    pub by_digest: bool,
    /// An --image is exported by the engine and pushed natively (`--transfer native`, and always by digest).
    pub native_transfer: bool,
    /// How a docker archive's uncompressed layers are sent (native sources only).
    pub compression: Compression,
    pub logout: bool,
    /// Push even when CodeBuild reports the build as failing.
    pub force: bool,
    /// CodeBuild reports this build as failing (`CODEBUILD_BUILD_SUCCEEDING=0`).
    pub build_failing: bool,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
    /// `--scan-fail-on`: the vulnerability gate on the pushed digest, after the push.
    pub scan: Option<ScanGateSettings>,
}

pub(super) fn resolve(args: &PushArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<PushSettings> {
    let (file, repository) = file_and_repository("push", &args.common, cwd)?;
    let tags = tag_settings(&args.tags, &file, env, cwd)?;
    let outputs = output_settings(&args.outputs, &file, env, cwd)?;
    let aws = aws_settings(&args.common, &args.aws, &file, env)?;
    let (repository_settings, create_repository, update_repository) =
        repository_settings(&args.repository, &file, cwd)?;
    kms_key_in_partition(&repository_settings, &aws)?;
    settings_fit_registry(&repository_settings, &aws)?;
    if aws.public().is_some() {
        names::validate_public_repository(&repository)?;
    }
    let source = match (&args.image, &args.from) {
        (Some(image), None) => {
            if image.trim().is_empty() || image.starts_with('-') {
                bail_input!("invalid --image '{image}': expected a local image reference such as app:latest");
            }
            SourceSettings::Engine { engine: engine(args.engine.as_deref(), &file)?, image: image.clone() }
        }
        (None, Some(from)) => {
            let origin = if env.get("ECR_SHIP_FROM") == Some(from) { "ECR_SHIP_FROM" } else { "--from" };
            let source = ImageSource::parse(&absolute_source(from, cwd))
                .map_err(|error| crate::error::bad_input(format!("{origin} '{from}': {error:#}")))?;
            SourceSettings::Native(source)
        }
        (Some(_), Some(_)) => bail_input!("--image and --from are mutually exclusive: give one image source"),
        (None, None) => bail_input!(
            "push needs an image: --image LOCAL_REF (through docker or podman) or --from oci:DIR[:REF] / \
             oci-archive:FILE[:REF] / docker-archive:FILE[:TAG]"
        ),
    };
    let annotate = args.annotate.or(file.annotate).unwrap_or(false);
    let by_digest = args.by_digest.or(file.by_digest).unwrap_or(false);
    // The flags' flavor (not the file's, which a merge sharing the file uses) makes tags, so it is refused too.
    let latest_flavor = !args.tags.flavor.is_empty()
        && tags.rules.flavor.as_ref().is_some_and(|flavor| flavor.latest == crate::tags::metadata::Latest::Always);
    if by_digest
        && (!args.tags.tags.is_empty()
            || args.tags.latest == Some(true)
            || args.tags.semver == Some(true)
            || latest_flavor)
    {
        bail_input!(
            "--by-digest pushes under no tag: drop --tag, --latest, --semver and --flavor latest=true (tag the merged \
             index instead)"
        );
    }
    if annotate && matches!(source, SourceSettings::Engine { .. }) {
        bail_input!(
            "--annotate writes into the pushed manifest, which only a native push (--from) builds; with --image, pass \
             the annotations output to the image build instead (docker buildx build --annotation)"
        );
    }
    let native_transfer = match args.transfer.as_deref().or(file.transfer.as_deref()).map(str::trim) {
        None | Some("engine") => false,
        Some("native") if matches!(source, SourceSettings::Engine { .. }) => true,
        Some("native") => bail_input!(
            "--transfer native applies to --image (the engine exports it, ecr-ship pushes it); a --from source is \
             always pushed natively: drop --transfer"
        ),
        Some(other) => bail_input!("invalid --transfer '{other}': expected engine (the default) or native"),
    };
    let compression = match args.compression.as_deref().or(file.compression.as_deref()) {
        None => Compression::DEFAULT,
        Some(_) if matches!(source, SourceSettings::Engine { .. }) && !native_transfer && !by_digest => bail_input!(
            "--compression applies to native pushes (--from docker-archive:FILE, or --image with --transfer native); \
             with --image the engine compresses the layers itself: drop --compression (or compression: in the \
             config file)"
        ),
        Some(value) => Compression::parse(value)?,
    };
    let scan = push_gate(&args.scan, &file, &aws, &outputs, env, cwd)?;
    Ok(PushSettings {
        repository,
        tags,
        source,
        annotate,
        by_digest,
        native_transfer: native_transfer || by_digest,
        compression,
        aws,
        repository_settings,
        create_repository,
        update_repository,
        skip_existing: args.skip_existing.or(file.skip_existing).unwrap_or(false),
        logout: args.logout.unwrap_or(true),
        force: args.force.unwrap_or(false),
        build_failing: ci::var(env, "CODEBUILD_BUILD_SUCCEEDING") == Some("0"),
        outputs,
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
        scan,
    })
}
