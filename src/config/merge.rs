//! `ecr-ship merge`: the sources (digests or tags) of the index, each checked (an empty one is a platform left out,
//! refused with its position), the platforms the index must hold (`--platforms`), and the tags it is put under.

use std::path::Path;
use std::time::Duration;

use super::aws::aws_settings;
use super::common::{OutputSettings, Reporting, file_and_repository, output_settings, reporting, time_limit};
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
    /// `--platforms`: what the index must hold, exactly (empty: not checked), as `os/arch[/variant]`.
    pub platforms: Vec<Platform>,
    pub tags: TagSettings,
    pub aws: AwsSettings,
    pub skip_existing: bool,
    pub outputs: OutputSettings,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
}

/// A platform as `--platforms` names it and as an index child is compared with it: `os/arch[/variant]`, with
/// arm64's default variant `v8` left out (containerd's normalisation, so `linux/arm64/v8` is `linux/arm64`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Platform(String);

impl Platform {
    /// The platform of the fields an index or a config names; `None` without an os and an architecture.
    pub fn of(os: &str, architecture: &str, variant: Option<&str>) -> Option<Platform> {
        if os.is_empty() || architecture.is_empty() {
            return None;
        }
        let default_variant = |v: &str| architecture == "arm64" && v == "v8";
        let variant = variant.filter(|v| !v.is_empty() && !default_variant(v));
        Some(Platform(match variant {
            Some(variant) => format!("{os}/{architecture}/{variant}"),
            None => format!("{os}/{architecture}"),
        }))
    }

    /// Parses `os/arch[/variant]` as `--platforms` takes it (docker's `--platform` form, lower case).
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = |part: &&str| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(valid) {
            return Err(format!(
                "'{}' is not a platform: expected os/arch or os/arch/variant in lower case, such as linux/amd64 or \
                 linux/arm/v7",
                crate::error::shown(text)
            ));
        }
        Platform::of(parts[0], parts[1], parts.get(2).copied()).ok_or_else(|| format!("'{text}' is not a platform"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(super) fn resolve(args: &MergeArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<MergeSettings> {
    let (file, repository) = file_and_repository("merge", &args.common, cwd)?;
    let from_variable = from_variable(&args.sources, env.get("ECR_SHIP_SOURCES").map(String::as_str));
    let sources = source_lines(&args.sources);
    if sources.is_empty() {
        bail_input!("merge needs at least one SOURCE: a sha256 digest or a tag of an image in '{repository}'");
    }
    let origin = if from_variable { "ECR_SHIP_SOURCES (the action's `sources` input)" } else { "the SOURCE arguments" };
    for (index, source) in sources.iter().enumerate() {
        if source.is_empty() {
            bail_input!(
                "merge source {} of {} in {origin} is empty: an empty line or entry (often a matrix leg's digest \
                 output that was empty: a skipped or failed leg, or a wrong output name) would leave a platform out \
                 of the index; give every source, or remove the entry",
                index + 1,
                sources.len()
            );
        }
        if !crate::digest::is_digest(source) {
            names::validate_tag(source).map_err(|e| {
                crate::error::bad_input(format!("merge SOURCE '{source}' is neither a sha256 digest nor a tag ({e})"))
            })?;
        }
        if sources.iter().filter(|s| *s == source).count() > 1 {
            bail_input!("merge SOURCE '{source}' is given twice");
        }
    }
    let platforms = platforms(&args.platforms, env)?;
    let aws = aws_settings(&args.common, &args.aws, &file, env)?;
    if aws.public().is_some() {
        names::validate_public_repository(&repository)?;
    }
    Ok(MergeSettings {
        repository,
        sources,
        platforms,
        tags: tag_settings(&args.tags, &file, env, cwd)?,
        aws,
        skip_existing: args.skip_existing.or(file.skip_existing).unwrap_or(false),
        outputs: output_settings(&args.outputs, &file, env, cwd)?,
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
    })
}

/// Whether the sources came from `ECR_SHIP_SOURCES` (clap splits it at commas), for the messages.
fn from_variable(values: &[String], variable: Option<&str>) -> bool {
    variable.is_some_and(|text| text.split(',').eq(values.iter().map(String::as_str)))
}

/// The sources, one per line of each value, trimmed, empty ones kept (their position is the error). One line
/// break ending a value is its terminator, not an empty source: a YAML block (`sources: |`) ends in one.
fn source_lines(values: &[String]) -> Vec<String> {
    let mut sources = Vec::new();
    for value in values {
        let value = value.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(value);
        sources.extend(value.split('\n').map(|line| line.trim().to_string()));
    }
    sources
}

/// `--platforms` (ECR_SHIP_PLATFORMS, one per line or comma-separated), each checked, none twice.
fn platforms(values: &[String], env: &EnvMap) -> anyhow::Result<Vec<Platform>> {
    let origin = if from_variable(values, env.get("ECR_SHIP_PLATFORMS").map(String::as_str)) {
        "ECR_SHIP_PLATFORMS"
    } else {
        "--platforms"
    };
    let mut platforms = Vec::new();
    for text in values.iter().flat_map(|v| v.lines()).map(str::trim).filter(|t| !t.is_empty()) {
        let platform = Platform::parse(text).map_err(|e| crate::error::bad_input(format!("{origin}: {e}")))?;
        if platforms.contains(&platform) {
            bail_input!("{origin}: {platform} is named twice");
        }
        platforms.push(platform);
    }
    if !values.is_empty() && platforms.is_empty() {
        bail_input!("{origin} names no platform: give os/arch entries such as linux/amd64,linux/arm64");
    }
    Ok(platforms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sources_keep_their_place_but_a_block_s_last_line_break_is_no_source() {
        let lines = |values: &[&str]| source_lines(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>());
        assert_eq!(lines(&["a\nb\n"]), ["a", "b"], "a YAML block ends in one line break");
        assert_eq!(lines(&["a\n\n"]), ["a", ""], "an empty last leg");
        assert_eq!(lines(&["\nb\n"]), ["", "b"], "an empty first leg");
        assert_eq!(lines(&["a\r\n \r\nb"]), ["a", "", "b"]);
        assert_eq!(lines(&["a", "", "b"]), ["a", "", "b"], "arguments, or commas in the variable");
        assert_eq!(lines(&["\n"]), [""]);
        assert!(from_variable(&["a".into(), "".into()], Some("a,")));
        assert!(!from_variable(&["a".into()], Some("b")));
        assert!(!from_variable(&["a".into()], None));
    }

    #[test]
    fn platforms_are_os_arch_and_an_optional_variant() {
        let ok = [
            ("linux/amd64", "linux/amd64"),
            ("linux/arm/v7", "linux/arm/v7"),
            ("linux/arm64/v8", "linux/arm64"),
            ("windows/amd64", "windows/amd64"),
        ];
        for (text, want) in ok {
            assert_eq!(Platform::parse(text).unwrap().as_str(), want, "{text}");
        }
        for bad in ["linux", "linux/", "/amd64", "linux/amd64/v8/x", "Linux/AMD64", "linux amd64", ""] {
            assert!(Platform::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Platform::of("linux", "arm64", Some("v8")), Platform::of("linux", "arm64", None));
        assert_eq!(Platform::of("", "amd64", None), None);
    }
}
