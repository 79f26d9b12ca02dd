//! `ecr-ship retag`: the source image and the new tags, put server-side.

use std::path::Path;
use std::time::Duration;

use super::aws::aws_settings;
use super::common::{OutputSettings, Reporting, file_and_repository, output_settings, reporting, time_limit};
use crate::aws::AwsSettings;
use crate::ci::EnvMap;
use crate::cli::RetagArgs;
use crate::{bail_input, names};

#[derive(Debug)]
pub struct RetagSettings {
    pub repository: String,
    /// An existing tag or a `sha256:` digest.
    pub source: String,
    pub new_tags: Vec<String>,
    pub aws: AwsSettings,
    pub skip_existing: bool,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
}

pub(super) fn resolve(args: &RetagArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<RetagSettings> {
    let (file, repository) = file_and_repository("retag", &args.common, cwd)?;
    if !crate::digest::is_digest(&args.source) {
        names::validate_tag(&args.source)
            .map_err(|e| e.context("SOURCE_TAG_OR_DIGEST is neither a tag nor a sha256 digest"))?;
    }
    for tag in &args.new_tags {
        names::validate_tag(tag)?;
    }
    let distinct = args.new_tags.iter().collect::<std::collections::BTreeSet<_>>().len();
    if distinct > crate::tags::MAX_TAGS {
        bail_input!(
            "retag names {distinct} new tags, and ECR keeps at most 1,000 on an image (docs/ecr-behaviour.md §4): \
             give fewer"
        );
    }
    let outputs = output_settings(&args.outputs, &file, env, cwd)?;
    let aws = aws_settings(&args.common, &args.aws, &file, env)?;
    Ok(RetagSettings {
        repository,
        source: args.source.clone(),
        new_tags: args.new_tags.clone(),
        aws,
        skip_existing: args.skip_existing.or(file.skip_existing).unwrap_or(false),
        outputs,
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
    })
}
