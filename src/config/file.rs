//! The config file `.ecr-ship.yml`: its schema and its parsing, nothing else.
//!
//! Keys mirror the command-line flags. The file is parsed with serde-saphyr (serde_yaml is deprecated and serde_yml
//! carries RUSTSEC-2025-0068); unknown keys and wrong types are bad input whose message names the key and the line.
//! Merging the file with flags and the environment is the resolver's job (`config/mod.rs`), not this file's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::bail_input;

/// The default config file name, looked for in the current directory.
pub const DEFAULT_CONFIG: &str = ".ecr-ship.yml";

/// `.ecr-ship.yml`. Keys mirror the command-line flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    pub repository: Option<String>,
    pub region: Option<String>,
    pub registry: Option<String>,
    pub account_id: Option<String>,
    pub role_arn: Option<OneOrMany>,
    pub external_id: Option<String>,
    pub role_session_name: Option<String>,
    pub role_duration: Option<u64>,
    pub registries: Option<Vec<String>>,
    pub engine: Option<String>,
    /// `gzip`, `zstd` or `none`: how a docker archive's uncompressed layers are sent.
    pub compression: Option<String>,
    /// `engine` or `native`: how an --image is sent.
    pub transfer: Option<String>,
    pub timeout: Option<u64>,
    pub skip_existing: Option<bool>,
    pub annotate: Option<bool>,
    pub by_digest: Option<bool>,
    pub tags: Option<TagSection>,
    pub repository_settings: Option<RepositorySection>,
    pub outputs: Option<OutputSection>,
    pub scan: Option<ScanSection>,
    /// `auto`, `true` or `false`, as `--storage-summary` (push and prune).
    pub storage_summary: Option<Scalar>,
    /// USD per GB-month, as `--price-per-gb` (push and prune).
    pub price_per_gb: Option<Scalar>,
}

/// A value a flag takes as text, which YAML may write as a boolean or a number (`true`, `0.10`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl Scalar {
    /// The value as its flag would be given it.
    pub fn as_flag_text(&self) -> String {
        match self {
            Scalar::Bool(value) => value.to_string(),
            Scalar::Number(value) => value.to_string(),
            Scalar::Text(value) => value.clone(),
        }
    }
}

/// A value that may be written as one string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TagSection {
    pub templates: Option<Vec<String>>,
    pub flavor: Option<Vec<String>>,
    pub labels: Option<Vec<String>>,
    pub annotations: Option<Vec<String>>,
    pub sha_length: Option<usize>,
    pub latest: Option<bool>,
    pub semver: Option<bool>,
    pub semver_prefix: Option<String>,
    pub default_branch: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RepositorySection {
    pub create: Option<bool>,
    pub update: Option<bool>,
    pub scan_on_push: Option<bool>,
    pub tag_mutability: Option<String>,
    pub mutability_exclusions: Option<Vec<String>>,
    pub encryption: Option<String>,
    pub kms_key: Option<String>,
    /// Inline lifecycle policy: a JSON string or a YAML mapping of the same document.
    pub lifecycle_policy: Option<serde_json::Value>,
    pub lifecycle_policy_file: Option<PathBuf>,
    pub repository_policy: Option<serde_json::Value>,
    pub repository_policy_file: Option<PathBuf>,
    pub resource_tags: Option<BTreeMap<String, String>>,
    /// ECR Public catalog data.
    pub description: Option<String>,
    pub about_text: Option<String>,
    pub about_text_file: Option<PathBuf>,
    pub usage_text: Option<String>,
    pub usage_text_file: Option<PathBuf>,
    pub architectures: Option<Vec<String>>,
    pub operating_systems: Option<Vec<String>>,
    pub logo_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OutputSection {
    pub image_definitions: Option<String>,
    pub image_definitions_file: Option<PathBuf>,
    pub image_detail: Option<bool>,
    pub properties_file: Option<PathBuf>,
    pub dotenv_file: Option<PathBuf>,
    pub output_json: Option<PathBuf>,
}

/// `scan:`, the vulnerability gate (`--scan-fail-on`, `--scan-timeout`, `--scan-ignore`, `--sarif`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScanSection {
    pub fail_on: Option<String>,
    pub timeout: Option<u64>,
    pub ignore: Option<Vec<ScanIgnoreEntry>>,
    pub sarif: Option<PathBuf>,
}

/// One accepted finding: `{id: CVE-…, expires: YYYY-MM-DD, reason: "…"}` (the date and the reason are checked by
/// the resolver, which says which entry lacks them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanIgnoreEntry {
    pub id: String,
    pub expires: Option<String>,
    pub reason: Option<String>,
}

impl ConfigFile {
    /// Parses config text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<ConfigFile> {
        if text.trim().is_empty() {
            return Ok(ConfigFile::default());
        }
        serde_saphyr::from_str::<ConfigFile>(text).map_err(|error| {
            let rendered = error.to_string();
            let detail = rendered.lines().next().unwrap_or_default().trim_start_matches("error: ");
            let source_line = line_number(detail).and_then(|n| text.lines().nth(n - 1)).map(str::trim);
            match source_line {
                Some(line) if !line.is_empty() => {
                    crate::error::bad_input(format!("invalid config file '{origin}': {detail} (at `{line}`)"))
                }
                _ => crate::error::bad_input(format!("invalid config file '{origin}': {detail}")),
            }
        })
    }

    /// Loads `--config FILE` (which must exist) or `.ecr-ship.yml` in `dir` when present.
    pub fn load(explicit: Option<&Path>, dir: &Path) -> anyhow::Result<ConfigFile> {
        let (path, required) = match explicit {
            Some(path) => (dir.join(path), true),
            None => (dir.join(DEFAULT_CONFIG), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => ConfigFile::parse(&text, &path.display().to_string()),
            Err(error) if !required && error.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(error) => bail_input!("cannot read config file '{}': {error}", path.display()),
        }
    }

    pub fn tag_section(&self) -> &TagSection {
        static EMPTY: TagSection = TagSection {
            templates: None,
            flavor: None,
            labels: None,
            annotations: None,
            sha_length: None,
            latest: None,
            semver: None,
            semver_prefix: None,
            default_branch: None,
        };
        self.tags.as_ref().unwrap_or(&EMPTY)
    }

    pub fn output_section(&self) -> OutputSection {
        self.outputs.as_ref().map_or_else(OutputSection::default, |o| OutputSection {
            image_definitions: o.image_definitions.clone(),
            image_definitions_file: o.image_definitions_file.clone(),
            image_detail: o.image_detail,
            properties_file: o.properties_file.clone(),
            dotenv_file: o.dotenv_file.clone(),
            output_json: o.output_json.clone(),
        })
    }
}

/// The line number in a serde-saphyr message that starts "line N column M: …".
fn line_number(detail: &str) -> Option<usize> {
    detail.strip_prefix("line ")?.split(' ').next()?.parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file() {
        let text = r#"
repository: team/app
region: eu-west-1
role-arn: [arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:role/b]
account-id: "012345678901"
tags:
  templates: ["{branch}-{sha:7}"]
  latest: true
  sha-length: 8
repository-settings:
  create: true
  tag-mutability: IMMUTABLE_WITH_EXCLUSION
  mutability-exclusions: [latest]
  lifecycle-policy:
    rules: [{rulePriority: 1, selection: {tagStatus: untagged, countType: imageCountMoreThan, countNumber: 5}, action: {type: expire}}]
  resource-tags: {team: platform}
outputs:
  image-definitions: web
"#;
        let file = ConfigFile::parse(text, "test.yml").unwrap();
        assert_eq!(file.repository.as_deref(), Some("team/app"));
        assert_eq!(file.role_arn.clone().unwrap().into_vec().len(), 2);
        assert_eq!(file.account_id.as_deref(), Some("012345678901"));
        assert_eq!(file.tag_section().sha_length, Some(8));
        let settings = file.repository_settings.as_ref().unwrap();
        assert_eq!(settings.lifecycle_policy.as_ref().unwrap()["rules"][0]["rulePriority"], 1);
        assert_eq!(file.output_section().image_definitions.as_deref(), Some("web"));
    }

    #[test]
    fn storage_keys_take_what_their_flags_take() {
        let file = ConfigFile::parse("storage-summary: true\nprice-per-gb: 0.023\n", "x.yml").unwrap();
        assert_eq!(file.storage_summary.map(|v| v.as_flag_text()).as_deref(), Some("true"));
        assert_eq!(file.price_per_gb.map(|v| v.as_flag_text()).as_deref(), Some("0.023"));
        let file = ConfigFile::parse("storage-summary: auto\nprice-per-gb: \"$0.10\"\n", "x.yml").unwrap();
        assert_eq!(file.storage_summary.map(|v| v.as_flag_text()).as_deref(), Some("auto"));
        assert_eq!(file.price_per_gb.map(|v| v.as_flag_text()).as_deref(), Some("$0.10"));
    }

    #[test]
    fn the_scan_section_takes_dates_unquoted() {
        let text = "scan:\n  fail-on: HIGH\n  timeout: 600\n  ignore:\n    - {id: CVE-2024-1, expires: 2027-01-31, \
                    reason: \"no fix\"}\n    - id: CVE-2024-2\n";
        let file = ConfigFile::parse(text, "x.yml").unwrap();
        let scan = file.scan.unwrap();
        let ignores = scan.ignore.unwrap();
        assert_eq!((scan.fail_on.as_deref(), scan.timeout), (Some("HIGH"), Some(600)));
        assert_eq!(ignores[0].expires.as_deref(), Some("2027-01-31"));
        assert_eq!(ignores[1].reason, None);
        let error = ConfigFile::parse("scan:\n  ignore: [{id: x, until: 2027-01-01}]\n", "x.yml").unwrap_err();
        assert!(error.to_string().contains("until"), "{error}");
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_key_and_line() {
        for (text, expected) in [
            ("repository: a/b\nrepo-name: x\n", ["repo-name", "line 2"]),
            ("tags:\n  sha-length: seven\n", ["sha-length: seven", "line 2"]),
            ("tags:\n  latest: true\n  lattest: true\n", ["lattest", "line 3"]),
        ] {
            let error = ConfigFile::parse(text, "x.yml").unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2);
            let message = error.to_string();
            for needle in expected {
                assert!(message.contains(needle), "{text:?}: {message}");
            }
        }
        let error = ConfigFile::parse("{ not: yaml: at all", "x.yml").unwrap_err();
        assert!(error.to_string().starts_with("invalid config file 'x.yml'"), "{error}");
    }
}
