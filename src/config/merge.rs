//! `ecr-ship merge`: the sources (digests or tags) of the index, each checked, and the tags it is put under.

use std::path::Path;
use std::time::Duration;

use super::aws::aws_settings;
use super::common::{
    OutputSettings, Reporting, file_and_repository, one_per_line, output_settings, reporting, time_limit,
};
use super::tags::{TagSettings, tag_settings};
use crate::aws::AwsSettings;
use crate::ci::EnvMap;
use crate::cli::MergeArgs;
use crate::{bail_input, names};

#[derive(Debug)]
pub struct MergeSettings {
    pub repository: String,
    /// Tags or `sha256:` digests, in the order the index lists them.
    pub sources: Vec<String>,
    pub tags: TagSettings,
    pub aws: AwsSettings,
    pub skip_existing: bool,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
}

pub(super) fn resolve(args: &MergeArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<MergeSettings> {
    let (file, repository) = file_and_repository("merge", &args.common, cwd)?;
    let sources = one_per_line(&args.sources);
    if sources.is_empty() {
        bail_input!("merge needs at least one SOURCE: a sha256 digest or a tag of an image in '{repository}'");
    }
    for source in &sources {
        if !crate::digest::is_digest(source) {
            names::validate_tag(source).map_err(|e| {
                crate::error::bad_input(format!("merge SOURCE '{source}' is neither a sha256 digest nor a tag ({e})"))
            })?;
        }
        if sources.iter().filter(|s| *s == source).count() > 1 {
            bail_input!("merge SOURCE '{source}' is given twice");
        }
    }
    let aws = aws_settings(&args.common, &args.aws, &file, env)?;
    if aws.public().is_some() {
        names::validate_public_repository(&repository)?;
    }
    Ok(MergeSettings {
        repository,
        sources,
        tags: tag_settings(&args.tags, &file, env, cwd)?,
        aws,
        skip_existing: args.skip_existing.or(file.skip_existing).unwrap_or(false),
        outputs: output_settings(&args.outputs, &file, env, cwd)?,
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
    })
}
