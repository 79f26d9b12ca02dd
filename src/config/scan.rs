//! `ecr-ship scan` and the vulnerability gate `push --scan-fail-on` runs: thresholds, ignores, the wait and the
//! SARIF file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::aws::aws_settings;
use super::common::{
    OutputSettings, Reporting, file_and_repository, one_per_line, output_settings, reporting, time_limit,
};
use super::file::ConfigFile;
use super::tags::now;
use crate::aws::AwsSettings;
use crate::ci::EnvMap;
use crate::cli::{ScanArgs, ScanGateArgs};
use crate::{bail_input, names, outputs};

/// The vulnerability gate, checked: the threshold, how long to wait, the ignore list, the SARIF file.
#[derive(Debug, Clone)]
pub struct ScanGateSettings {
    /// `None`: report the findings, never fail (`scan` without `--scan-fail-on`).
    pub threshold: Option<crate::scan::Severity>,
    pub timeout: Duration,
    /// Every ignore, flags' and the file's; which have expired is decided at `now`.
    pub ignores: Vec<crate::scan::Ignore>,
    pub sarif: Option<PathBuf>,
    /// `--follow-symlinks`: the SARIF file may be a symlink, written to the file it points at.
    pub follow_symlinks: bool,
    /// The instant expiry dates compare against (honours SOURCE_DATE_EPOCH).
    pub now: chrono::DateTime<chrono::Utc>,
}

/// `ecr-ship scan`.
#[derive(Debug)]
pub struct ScanSettings {
    pub repository: String,
    /// A tag or a `sha256:` digest.
    pub reference: String,
    pub aws: AwsSettings,
    pub gate: ScanGateSettings,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
}

pub(super) fn resolve(args: &ScanArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<ScanSettings> {
    let (file, repository) = file_and_repository("scan", &args.common, cwd)?;
    if !crate::digest::is_digest(&args.reference) {
        names::validate_tag(&args.reference)
            .map_err(|e| e.context("TAG_OR_DIGEST is neither a tag nor a sha256 digest"))?;
    }
    let aws = aws_settings(&args.common, &args.aws, &file, env)?;
    let outputs = output_settings(&args.outputs, &file, env, cwd)?;
    let gate = gate_settings(&args.gate, &file, env, cwd, outputs.targets.follow_symlinks)?;
    gate_fits_registry(&aws)?;
    Ok(ScanSettings {
        repository,
        reference: args.reference.clone(),
        aws,
        gate,
        outputs,
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
    })
}

/// The gate of a push: on with `--scan-fail-on` (or `scan: fail-on:` in the file); the other scan flags without it
/// would do nothing, so they are refused. `outputs` are the push's, whose `--follow-symlinks` the SARIF file obeys.
pub(super) fn push_gate(
    args: &ScanGateArgs,
    file: &ConfigFile,
    aws: &AwsSettings,
    outputs: &OutputSettings,
    env: &EnvMap,
    cwd: &Path,
) -> anyhow::Result<Option<ScanGateSettings>> {
    let gate = gate_settings(args, file, env, cwd, outputs.targets.follow_symlinks)?;
    if gate.threshold.is_none() {
        if args.scan_timeout.is_some() || !args.scan_ignore.is_empty() || args.sarif.is_some() {
            bail_input!(
                "--scan-timeout, --scan-ignore and --sarif judge the pushed image's scan, which push waits for only \
                 with --scan-fail-on SEVERITY (or scan: fail-on: in the config file); add it, or use `ecr-ship scan`"
            );
        }
        return Ok(None);
    }
    gate_fits_registry(aws)?;
    Ok(Some(gate))
}

/// The gate's options: flags, else the file's `scan:` section; the ignore list is both (flags have no expiry). The
/// SARIF file is checked as every output file is ([`outputs::check_destination`]), offline.
pub(super) fn gate_settings(
    args: &ScanGateArgs,
    file: &ConfigFile,
    env: &EnvMap,
    cwd: &Path,
    follow_symlinks: bool,
) -> anyhow::Result<ScanGateSettings> {
    let section = file.scan.as_ref();
    let threshold = match args.scan_fail_on.as_deref().or(section.and_then(|s| s.fail_on.as_deref())) {
        Some(value) => Some(crate::scan::Severity::parse_threshold(value)?),
        None => None,
    };
    let seconds = args.scan_timeout.or(section.and_then(|s| s.timeout)).unwrap_or(600);
    if !(1..=86_400).contains(&seconds) {
        bail_input!("invalid --scan-timeout {seconds}: give the seconds to wait for the scan, from 1 to 86400");
    }
    let mut ignores = Vec::new();
    let from_variable =
        env.get("ECR_SHIP_SCAN_IGNORE").is_some_and(|v| v.split(',').eq(args.scan_ignore.iter().map(String::as_str)));
    let origin = if from_variable { "ECR_SHIP_SCAN_IGNORE" } else { "--scan-ignore" };
    for id in one_per_line(&args.scan_ignore) {
        ignores.push(crate::scan::Ignore::from_flag(&id, origin)?);
    }
    for entry in section.and_then(|s| s.ignore.as_deref()).unwrap_or_default() {
        ignores.push(crate::scan::Ignore::from_config(&entry.id, entry.expires.as_deref(), entry.reason.as_deref())?);
    }
    let sarif = match (&args.sarif, section.and_then(|s| s.sarif.as_ref())) {
        (Some(path), _) => Some((path, "--sarif")),
        (None, Some(path)) => Some((path, "scan.sarif in the config file")),
        (None, None) => None,
    };
    if let Some((path, origin)) = sarif {
        outputs::check_destination(cwd, path, origin, follow_symlinks)?;
    }
    let sarif = sarif.map(|(path, _)| cwd.join(path));
    Ok(ScanGateSettings {
        threshold,
        timeout: Duration::from_secs(seconds),
        ignores,
        sarif,
        follow_symlinks,
        now: now(env)?,
    })
}

/// ECR Public does not scan images: a gate there could never pass or fail.
pub(super) fn gate_fits_registry(aws: &AwsSettings) -> anyhow::Result<()> {
    if let Some(public) = aws.public() {
        bail_input!(
            "registry '{public}' is ECR Public, which does not scan images: the vulnerability gate (--scan-fail-on, \
             `ecr-ship scan`) is for private ECR repositories"
        );
    }
    Ok(())
}
