//! The pieces every command's resolution shares: the opening (the config file, then the repository, required
//! and checked, with one wording for its absence), how results are reported, the output destinations, the engine
//! choice and the time limit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::ConfigFile;
use crate::ci::EnvMap;
use crate::cli::{AwsArgs, CommonArgs, OutputArgs};
use crate::engine::EngineChoice;
use crate::outputs::{self, OutputTargets};
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
/// Every file a flag or key names is checked here, offline ([`outputs::check_destination`]: its directory exists,
/// it is no directory, no symlink unless `--follow-symlinks`), so a bad path is exit 2 before anything is sent, and
/// two outputs naming one file are refused.
pub(super) fn output_settings(
    args: &OutputArgs,
    file: &ConfigFile,
    env: &EnvMap,
    cwd: &Path,
) -> anyhow::Result<OutputSettings> {
    let section = file.output_section();
    let in_github = ci::in_github_actions(env);
    let github_file = |key: &str| in_github.then(|| ci::var(env, key).map(PathBuf::from)).flatten();
    // The flag's value, else the file's key, with the name the message gives its origin.
    fn pick(
        flag: &Option<PathBuf>,
        key: &Option<PathBuf>,
        flag_name: &str,
        key_name: &str,
    ) -> Option<(PathBuf, String)> {
        match (flag, key) {
            (Some(path), _) => Some((path.clone(), flag_name.to_string())),
            (None, Some(path)) => Some((path.clone(), format!("outputs.{key_name} in the config file"))),
            (None, None) => None,
        }
    }
    let image_definitions = args.image_definitions.clone().or(section.image_definitions.clone());
    let definitions_file = pick(
        &args.image_definitions_file,
        &section.image_definitions_file,
        "--image-definitions-file",
        "image-definitions-file",
    );
    let image_detail = args.image_detail.or(section.image_detail).unwrap_or(false);
    let properties = pick(&args.properties_file, &section.properties_file, "--properties-file", "properties-file");
    let dotenv = pick(&args.dotenv_file, &section.dotenv_file, "--dotenv-file", "dotenv-file");
    let json = pick(&args.output_json, &section.output_json, "--output-json", "output-json");
    let follow_symlinks = args.follow_symlinks.unwrap_or(false);

    let mut named: Vec<(PathBuf, String)> = Vec::new();
    if image_definitions.is_some() {
        named.push(definitions_file.clone().unwrap_or_else(|| {
            (PathBuf::from(outputs::IMAGE_DEFINITIONS), format!("{} (--image-definitions)", outputs::IMAGE_DEFINITIONS))
        }));
    }
    if image_detail {
        named.push((PathBuf::from(outputs::IMAGE_DETAIL), format!("{} (--image-detail)", outputs::IMAGE_DETAIL)));
    }
    named.extend([&properties, &dotenv, &json].into_iter().flatten().cloned());
    for (index, (path, origin)) in named.iter().enumerate() {
        outputs::check_destination(cwd, path, origin, follow_symlinks)?;
        if let Some((_, first)) = named[..index].iter().find(|(other, _)| cwd.join(other) == cwd.join(path)) {
            bail_input!(
                "{first} and {origin} both name '{}': give each output a file of its own",
                crate::error::shown(&path.display().to_string())
            );
        }
    }
    let targets = OutputTargets {
        github_output: github_file("GITHUB_OUTPUT"),
        github_summary: github_file("GITHUB_STEP_SUMMARY"),
        image_definitions,
        image_definitions_file: definitions_file.map(|(path, _)| path),
        image_detail,
        properties_file: properties.map(|(path, _)| path),
        dotenv_file: dotenv.map(|(path, _)| path),
        json_file: json.map(|(path, _)| path),
        follow_symlinks,
    };
    Ok(OutputSettings { targets, export: args.export.unwrap_or(false) })
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
