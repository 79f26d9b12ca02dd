//! The pieces every command's resolution shares: the opening (the config file, then the repository, required
//! and checked, with one wording for its absence), how results are reported, the output destinations, the engine
//! choice and the time limit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::ConfigFile;
use crate::ci::EnvMap;
use crate::cli::{AwsArgs, CommonArgs, OutputArgs};
use crate::engine::EngineChoice;
use crate::outputs::OutputTargets;
use crate::{bail_input, ci, names};

/// How results are reported, whatever the command.
#[derive(Debug, Clone)]
pub struct Reporting {
    /// Running in GitHub Actions: warnings and errors also become annotations.
    pub github: bool,
    /// `--json`: the result as JSON on standard output.
    pub json: bool,
}

/// Where the step outputs go.
#[derive(Debug, Clone)]
pub struct OutputSettings {
    pub targets: OutputTargets,
    /// `--export`: `export NAME='value'` lines on standard output instead of the image URI.
    pub export: bool,
}

pub(super) fn repository(common: &CommonArgs, file: &ConfigFile) -> Option<String> {
    common.repository.clone().or_else(|| file.repository.clone())
}

pub(super) fn reporting(common: &CommonArgs, env: &EnvMap) -> Reporting {
    Reporting { github: ci::in_github_actions(env), json: common.json.unwrap_or(false) }
}

pub(super) fn engine(flag: Option<&str>, file: &ConfigFile) -> anyhow::Result<EngineChoice> {
    flag.or(file.engine.as_deref()).map_or(Ok(EngineChoice::Auto), EngineChoice::parse)
}

/// The whole-command limit; the same value also bounds each AWS call (see [`aws_options`]).
pub(super) fn time_limit(aws: &AwsArgs, file: &ConfigFile) -> Option<Duration> {
    aws.timeout.or(file.timeout).map(Duration::from_secs)
}

/// Lists given one item per line (an action input, ECR_SHIP_TAGS) or one per flag, trimmed, blank lines dropped.
pub(super) fn one_per_line(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| value.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

/// Output destinations (flags, else the file's `outputs:`); GitHub's files come from the environment in Actions.
pub(super) fn output_settings(args: &OutputArgs, file: &ConfigFile, env: &EnvMap) -> OutputSettings {
    let section = file.output_section();
    let in_github = ci::in_github_actions(env);
    let github_file = |key: &str| in_github.then(|| ci::var(env, key).map(PathBuf::from)).flatten();
    let targets = OutputTargets {
        github_output: github_file("GITHUB_OUTPUT"),
        github_summary: github_file("GITHUB_STEP_SUMMARY"),
        image_definitions: args.image_definitions.clone().or(section.image_definitions),
        image_definitions_file: args.image_definitions_file.clone().or(section.image_definitions_file),
        image_detail: args.image_detail.or(section.image_detail).unwrap_or(false),
        properties_file: args.properties_file.clone().or(section.properties_file),
        dotenv_file: args.dotenv_file.clone().or(section.dotenv_file),
        json_file: args.output_json.clone().or(section.output_json),
    };
    OutputSettings { targets, export: args.export.unwrap_or(false) }
}

/// `oci:DIR`, `oci-archive:FILE` and `docker-archive:FILE` relative to the working directory the command was given.
pub(super) fn absolute_source(spec: &str, cwd: &Path) -> String {
    match spec.split_once(':') {
        Some((kind, rest)) if !rest.starts_with('/') && ["oci", "oci-archive", "docker-archive"].contains(&kind) => {
            format!("{kind}:{}", cwd.join(rest).display())
        }
        _ => spec.to_string(),
    }
}

/// The opening every command that addresses one repository shares: the config file, then the repository (the flag,
/// `ECR_SHIP_REPOSITORY` or the file's `repository:`), required and checked against ECR's grammar.
pub(super) fn file_and_repository(
    command: &str,
    common: &CommonArgs,
    cwd: &Path,
) -> anyhow::Result<(ConfigFile, String)> {
    let file = ConfigFile::load(common.config.as_deref(), cwd)?;
    let Some(repository) = repository(common, &file) else {
        bail_input!("{command} needs --repository (or ECR_SHIP_REPOSITORY, or repository: in .ecr-ship.yml)");
    };
    names::validate_repository(&repository)?;
    Ok((file, repository))
}
