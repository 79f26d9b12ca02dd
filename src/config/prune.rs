//! `ecr-ship prune`: the repository, the rules (`--pr`, or a closed pull request event's number on GitHub;
//! `--keep-last` with `--match`; `--untagged-older-than`), `--apply`, `--max` and the instant the ages count from,
//! all checked offline.

use std::path::Path;
use std::time::Duration;

use super::aws::aws_settings;
use super::common::{OutputSettings, Reporting, file_and_repository, output_settings, reporting, time_limit};
use super::tags::now;
use crate::aws::AwsSettings;
use crate::ci::{self, EnvMap};
use crate::cli::PruneArgs;
use crate::prune::{Rules, TagGlob};
use crate::{bail_input, log};

/// At most this many images deleted per run unless `--max` says otherwise.
pub const DEFAULT_MAX: usize = 50;

#[derive(Debug)]
pub struct PruneSettings {
    pub repository: String,
    pub rules: Rules,
    /// `--apply`: carry the plan out; otherwise only print it.
    pub apply: bool,
    /// `--max`: the most images one run deletes.
    pub max: usize,
    /// The instant ages count from, in seconds since the epoch (honours SOURCE_DATE_EPOCH).
    pub now: i64,
    pub aws: AwsSettings,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
    /// The repository's stored size and price in the job summary after the run (`--storage-summary`).
    pub storage: super::StorageSettings,
}

pub(super) fn resolve(args: &PruneArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<PruneSettings> {
    let (file, repository) = file_and_repository("prune", &args.common, cwd)?;
    let pr = match &args.pr {
        Some(given) => Some(number("--pr", given, 1, u64::MAX)?),
        None => closed_pull_request(env)?,
    };
    let keep_last = match (&args.keep_last, &args.match_tags) {
        (Some(count), Some(pattern)) => {
            let count = number("--keep-last", count, 1, 100_000)? as usize;
            Some((count, TagGlob::new(pattern).map_err(crate::error::bad_input)?))
        }
        (None, None) => None,
        (Some(count), None) => bail_input!("--keep-last {count} needs --match GLOB: the tags it counts, e.g. 'sha-*'"),
        (None, Some(pattern)) => {
            bail_input!(
                "--match '{}' needs --keep-last N: how many of the newest matching images to keep",
                crate::error::shown(pattern)
            )
        }
    };
    let untagged_older_than_days = match &args.untagged_older_than {
        Some(days) => Some(number("--untagged-older-than", days, 0, 36_500)?),
        None => None,
    };
    let rules = Rules { pr, keep_last, untagged_older_than_days };
    if rules == Rules::default() {
        bail_input!(
            "prune needs a rule: --pr N (in GitHub Actions, a closed pull_request event gives it), --keep-last N \
             --match GLOB, or --untagged-older-than DAYS"
        );
    }
    let max = match &args.max {
        Some(max) => number("--max", max, 1, 1_000_000)? as usize,
        None => DEFAULT_MAX,
    };
    let aws = aws_settings(&args.common, &args.aws, &file, env)?;
    if aws.public().is_some() {
        bail_input!(
            "prune works on private ECR repositories: the ECR Public API cannot read the manifests a prune must \
             weigh; give a private registry"
        );
    }
    Ok(PruneSettings {
        repository,
        rules,
        apply: args.apply.unwrap_or(false),
        max,
        now: now(env)?.timestamp(),
        aws,
        outputs: output_settings(&args.outputs, &file, env, cwd)?,
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
        storage: super::storage::resolve(&args.storage, &file)?,
    })
}

/// A whole number in `min..=max` given to `flag`, or a one-line bad-input error naming it.
fn number(flag: &str, given: &str, min: u64, max: u64) -> anyhow::Result<u64> {
    match given.trim().parse::<u64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => bail_input!("invalid {flag} '{}': give a whole number from {min} to {max}", crate::error::shown(given)),
    }
}

/// In GitHub Actions, the number of the pull request a `pull_request` (or `pull_request_target`) event with action
/// `closed` names; `None` for any other event. The payload is the file `GITHUB_EVENT_PATH` names.
fn closed_pull_request(env: &EnvMap) -> anyhow::Result<Option<u64>> {
    if !ci::in_github_actions(env) {
        return Ok(None);
    }
    let event = ci::var(env, "GITHUB_EVENT_NAME").unwrap_or_default();
    if !matches!(event, "pull_request" | "pull_request_target") {
        return Ok(None);
    }
    let Some(path) = ci::var(env, "GITHUB_EVENT_PATH") else {
        bail_input!("GITHUB_EVENT_PATH is not set for a '{event}' event: give --pr N");
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| crate::error::bad_input(format!("cannot read the event payload '{path}': {e}; give --pr N")))?;
    let payload: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| crate::error::bad_input(format!("the event payload '{path}' is not JSON ({e}); give --pr N")))?;
    if payload.get("action").and_then(|a| a.as_str()) != Some("closed") {
        return Ok(None);
    }
    let Some(number) = payload.pointer("/pull_request/number").and_then(|n| n.as_u64()).filter(|n| *n > 0) else {
        bail_input!("the closed '{event}' event payload names no pull_request.number: give --pr N");
    };
    log::info(format!("pruning pull request {number}: the '{event}' event closed it"));
    Ok(Some(number))
}
