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
use crate::engine::{EngineChoice, EngineKind};
use crate::oci::{Compression, ImageSource};
use crate::{bail_input, ci, names};

/// How a local image (`--image`) reaches the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// Decided once the engine is known: [`Transfer::for_engine`].
    Auto,
    /// The engine's own push (`docker push`, `podman push`).
    Engine,
    /// The engine exports the image (`save`) and ecr-ship uploads the archive.
    Native,
}

impl Transfer {
    /// Whether an `--image` on `engine` is exported and pushed natively. The default follows BENCHMARKS.md (i):
    /// docker's registry client opens a new connection per request and pushes layer by layer, so its export plus
    /// the native push took 0.5-0.73× the time of `docker push` at 0 and 40 ms, with the same image id. podman's
    /// push (containers/image) already keeps its connections and compresses layers in parallel, and its export
    /// was not measured to beat it, so podman keeps its own push.
    /// A docker daemon on another machine (`remote`) keeps its own push: exporting would carry the image to this
    /// machine first.
    pub fn is_native(self, engine: EngineKind, remote: bool) -> bool {
        match self {
            Transfer::Auto => engine == EngineKind::Docker && !remote,
            Transfer::Engine => false,
            Transfer::Native => true,
        }
    }
}

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
    /// How an --image reaches the registry; a by-digest push is always [`Transfer::Native`].
    pub transfer: Transfer,
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
    /// The repository's stored size and price in the job summary (`--storage-summary`, `--price-per-gb`).
    pub storage: super::StorageSettings,
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
    let transfer = match args.transfer.as_deref().or(file.transfer.as_deref()).map(str::trim) {
        None | Some("auto") => Transfer::Auto,
        // `engine` from a shared config file or job variable says how --image pushes go, and a --from push there
        // has nothing to choose, as before `auto` existed.
        Some("engine") => Transfer::Engine,
        Some("native") if matches!(source, SourceSettings::Engine { .. }) => Transfer::Native,
        Some("native") => bail_input!(
            "--transfer native applies to --image (the engine exports it, ecr-ship pushes it); a --from source is \
             always pushed natively: drop --transfer"
        ),
        Some(other) => {
            bail_input!("invalid --transfer '{other}': expected auto (the default), engine or native")
        }
    };
    let compression_given = args.compression.as_deref().or(file.compression.as_deref());
    let engine_source = matches!(source, SourceSettings::Engine { .. });
    if compression_given.is_some() && engine_source && transfer == Transfer::Engine && !by_digest {
        bail_input!(
            "--compression applies to native pushes, and --transfer engine has the engine compress the layers \
             itself: drop --compression (or compression: in the config file), or --transfer engine"
        );
    }
    let compression = compression_given.map_or(Ok(Compression::DEFAULT), Compression::parse)?;
    // Asking for a compression asks for the push that applies it, whichever engine exports the image.
    let transfer = match transfer {
        _ if by_digest => Transfer::Native,
        Transfer::Auto if compression_given.is_some() => Transfer::Native,
        chosen => chosen,
    };
    let scan = push_gate(&args.scan, &file, &aws, &outputs, env, cwd)?;
    Ok(PushSettings {
        repository,
        tags,
        source,
        annotate,
        by_digest,
        transfer,
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
        storage: super::storage::resolve(&args.storage, &file)?,
    })
}

#[cfg(test)]
mod tests {
    use super::Transfer;
    use crate::engine::EngineKind;

    #[test]
    fn the_default_transfer_is_native_for_a_local_docker_only() {
        // (transfer, engine, daemon on another machine, native)
        let table = [
            (Transfer::Auto, EngineKind::Docker, false, true),
            (Transfer::Auto, EngineKind::Docker, true, false),
            (Transfer::Auto, EngineKind::Podman, false, false),
            (Transfer::Engine, EngineKind::Docker, false, false),
            (Transfer::Engine, EngineKind::Podman, false, false),
            (Transfer::Native, EngineKind::Docker, false, true),
            (Transfer::Native, EngineKind::Docker, true, true),
            (Transfer::Native, EngineKind::Podman, false, true),
        ];
        for (transfer, engine, remote, native) in table {
            assert_eq!(transfer.is_native(engine, remote), native, "{transfer:?} on {engine:?}, remote {remote}");
        }
    }
}
