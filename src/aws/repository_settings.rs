//! Repository settings, checked without the network: tag mutability with its exclusion filters, scan on push,
//! encryption and its KMS key, the lifecycle and repository policies (read from their files and checked as
//! JSON), resource tags and an ECR Public repository's catalog data. [`RepositorySettings::validate`] turns the
//! flags or config file's [`RepositoryOptions`] into checked settings, and any bad value is bad input (exit 2)
//! naming it, before anything is sent. Pure apart from reading the policy files: no SDK, no network; the calls
//! that apply the settings are in `repository.rs`.

use std::path::{Path, PathBuf};

use crate::bail_input;
use crate::tag_policy::TagMutability;

/// Lifecycle policy text limit of the ECR API.
const LIFECYCLE_POLICY_MAX: usize = 30720;
/// Repository policy text limit of the ECR API.
const REPOSITORY_POLICY_MAX: usize = 10240;
const MAX_EXCLUSION_FILTERS: usize = 5;
const MAX_TAGS: usize = 50;

/// Repository settings as the flags or config file gave them.
#[derive(Debug, Clone, Default)]
pub struct RepositoryOptions {
    /// `MUTABLE`, `IMMUTABLE`, `IMMUTABLE_WITH_EXCLUSION` or `MUTABLE_WITH_EXCLUSION` (case-insensitive).
    pub tag_mutability: Option<String>,
    /// Shorthand for `IMMUTABLE` (`IMMUTABLE_WITH_EXCLUSION` when exclusion filters are given).
    pub immutable_tags: bool,
    /// Wildcard filters (`latest`, `main`, `dev-*`) naming tags that are exempt from the mutability setting.
    pub mutability_exclusions: Vec<String>,
    pub scan_on_push: Option<bool>,
    /// `AES256` or `KMS`; a KMS key alone implies `KMS`.
    pub encryption: Option<String>,
    pub kms_key: Option<String>,
    pub lifecycle_policy_file: Option<PathBuf>,
    /// Lifecycle policy JSON given inline (in `.ecr-ship.yml`); a file wins over it.
    pub lifecycle_policy_inline: Option<String>,
    pub repository_policy_file: Option<PathBuf>,
    /// Repository policy JSON given inline (in `.ecr-ship.yml`); a file wins over it.
    pub repository_policy_inline: Option<String>,
    /// `KEY=VALUE` resource tags.
    pub tags: Vec<String>,
    /// An ECR Public repository's catalog data.
    pub catalog: super::catalog::CatalogOptions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    Aes256,
    /// `None` uses the AWS managed key `aws/ecr`.
    Kms {
        key: Option<String>,
    },
}

/// Validated repository settings; `None` and empty fields mean "leave as ECR's default / as it is".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositorySettings {
    pub tag_mutability: Option<TagMutability>,
    pub exclusion_filters: Vec<String>,
    pub scan_on_push: Option<bool>,
    pub encryption: Option<Encryption>,
    /// Lifecycle policy JSON text, as read from its file.
    pub lifecycle_policy: Option<String>,
    /// Repository policy JSON text, as read from its file.
    pub repository_policy: Option<String>,
    pub tags: Vec<(String, String)>,
    /// An ECR Public repository's catalog data (the only settings a public repository has, beside its tags).
    pub catalog: super::catalog::CatalogData,
}

impl RepositorySettings {
    /// Checks the options against each other and reads the policy files. No network.
    pub fn validate(opts: RepositoryOptions) -> anyhow::Result<RepositorySettings> {
        let explicit = match opts.tag_mutability.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(match TagMutability::parse(raw) {
                Some(mode) => mode,
                None => bail_input!(
                    "invalid tag mutability '{raw}': expected MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or \
                     MUTABLE_WITH_EXCLUSION"
                ),
            }),
        };
        let filters = opts.mutability_exclusions.clone();
        let tag_mutability = match (explicit, opts.immutable_tags) {
            (Some(m @ (TagMutability::Mutable | TagMutability::MutableWithExclusion)), true) => bail_input!(
                "conflicting tag mutability: --immutable-tags and tag mutability '{}' contradict each other",
                m.as_str()
            ),
            (Some(m), _) => Some(m),
            (None, true) if filters.is_empty() => Some(TagMutability::Immutable),
            (None, true) => Some(TagMutability::ImmutableWithExclusion),
            (None, false) => None,
        };
        match tag_mutability {
            Some(m) if m.has_exclusions() && filters.is_empty() => bail_input!(
                "tag mutability {} needs 1-{MAX_EXCLUSION_FILTERS} exclusion filters (for example 'latest')",
                m.as_str()
            ),
            Some(m) if !m.has_exclusions() && !filters.is_empty() => bail_input!(
                "exclusion filters {filters:?} need tag mutability IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, \
                 not {}",
                m.as_str()
            ),
            None if !filters.is_empty() => bail_input!(
                "exclusion filters {filters:?} given without a tag mutability: add IMMUTABLE_WITH_EXCLUSION or \
                 MUTABLE_WITH_EXCLUSION"
            ),
            _ => {}
        }
        if filters.len() > MAX_EXCLUSION_FILTERS {
            bail_input!("{} exclusion filters {filters:?}: ECR allows at most {MAX_EXCLUSION_FILTERS}", filters.len());
        }
        for (i, filter) in filters.iter().enumerate() {
            let ok = (1..=128).contains(&filter.len())
                && filter.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '*' | '-'));
            if !ok {
                bail_input!(
                    "invalid exclusion filter '{filter}': expected 1-128 characters of [0-9a-zA-Z._*-] ('*' matches \
                     any run of characters)"
                );
            }
            if filters[..i].contains(filter) {
                bail_input!("exclusion filter '{filter}' is given twice");
            }
        }

        let kms_key = opts.kms_key.as_deref().map(str::trim).filter(|k| !k.is_empty());
        if let Some(key) = kms_key {
            validate_kms_key(key)?;
        }
        let encryption = match opts.encryption.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => kms_key.map(|key| Encryption::Kms { key: Some(key.to_string()) }),
            Some(raw) => match raw.to_ascii_uppercase().as_str() {
                "AES256" if kms_key.is_some() => bail_input!(
                    "conflicting encryption: a KMS key ('{}') needs encryption KMS, not '{raw}'",
                    kms_key.unwrap_or_default()
                ),
                "AES256" => Some(Encryption::Aes256),
                "KMS" => Some(Encryption::Kms { key: kms_key.map(str::to_string) }),
                _ => bail_input!("invalid encryption '{raw}': expected AES256 or KMS"),
            },
        };

        let lifecycle_policy = match (&opts.lifecycle_policy_file, &opts.lifecycle_policy_inline) {
            (Some(path), _) => Some((
                read_policy(path, "lifecycle policy", "rules", LIFECYCLE_POLICY_MAX)?,
                format!("the lifecycle policy file '{}'", path.display()),
            )),
            (None, Some(text)) => Some((
                check_policy(text, "inline", "lifecycle policy", "rules", LIFECYCLE_POLICY_MAX)?,
                "the inline lifecycle policy".to_string(),
            )),
            (None, None) => None,
        };
        // ECR's own rules (priorities, tag statuses, wildcards, count types), so a refusal is exit 2, not a failed call.
        if let Some((text, origin)) = &lifecycle_policy {
            super::lifecycle::validate_text(text, origin)?;
        }
        let lifecycle_policy = lifecycle_policy.map(|(text, _)| text);
        let repository_policy = match (&opts.repository_policy_file, &opts.repository_policy_inline) {
            (Some(path), _) => Some(read_policy(path, "repository policy", "Statement", REPOSITORY_POLICY_MAX)?),
            (None, Some(text)) => {
                Some(check_policy(text, "inline", "repository policy", "Statement", REPOSITORY_POLICY_MAX)?)
            }
            (None, None) => None,
        };

        let tags = parse_tags(&opts.tags)?;
        Ok(RepositorySettings {
            tag_mutability,
            exclusion_filters: filters,
            scan_on_push: opts.scan_on_push,
            encryption,
            lifecycle_policy,
            repository_policy,
            tags,
            catalog: super::catalog::CatalogData::validate(opts.catalog)?,
        })
    }
}

/// Reads a policy file and checks it is a JSON object with the key ECR requires; errors name the file.
fn read_policy(path: &Path, what: &str, required_key: &str, max: usize) -> anyhow::Result<String> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => bail_input!("cannot read the {what} file '{shown}': {e}"),
    };
    check_policy(&text, &format!("file '{shown}'"), what, required_key, max)
}

/// Checks policy text is a JSON object with the key ECR requires; `origin` names where it came from.
fn check_policy(text: &str, origin: &str, what: &str, required_key: &str, max: usize) -> anyhow::Result<String> {
    let json: serde_json::Value = match serde_json::from_str(text) {
        Ok(json) => json,
        Err(e) => bail_input!("the {what} {origin} is not valid JSON: {e}"),
    };
    if !json.as_object().is_some_and(|o| o.contains_key(required_key)) {
        bail_input!("the {what} {origin} must be a JSON object with a \"{required_key}\" key");
    }
    let text = text.trim().to_string();
    if text.len() > max {
        bail_input!("the {what} {origin} has {} characters; ECR accepts at most {max}", text.len());
    }
    Ok(text)
}

/// `KEY=VALUE` pairs with ECR's tag rules: key 1-128, value 0-256, `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, no `aws:` keys.
fn parse_tags(raw: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    if raw.len() > MAX_TAGS {
        bail_input!("{} repository tags given: ECR allows at most {MAX_TAGS}", raw.len());
    }
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    let mut tags: Vec<(String, String)> = Vec::with_capacity(raw.len());
    for item in raw {
        let Some((key, value)) = item.split_once('=') else {
            bail_input!("invalid repository tag '{item}': expected KEY=VALUE");
        };
        let (key, value) = (key.trim(), value.trim());
        if !(1..=128).contains(&key.chars().count()) || !key.chars().all(allowed) {
            bail_input!(
                "invalid repository tag key '{key}' in '{item}': expected 1-128 letters, digits, spaces or _.:/=+-@"
            );
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            bail_input!("invalid repository tag key '{key}': the 'aws:' prefix is reserved for AWS");
        }
        if value.chars().count() > 256 || !value.chars().all(allowed) {
            bail_input!(
                "invalid repository tag value '{value}' in '{item}': expected 0-256 letters, digits, spaces or _.:/=+-@"
            );
        }
        if tags.iter().any(|(k, _)| k == key) {
            bail_input!("repository tag key '{key}' is given twice");
        }
        tags.push((key.to_string(), value.to_string()));
    }
    Ok(tags)
}

/// The allowed forms of a KMS key, for messages.
const KMS_KEY_FORMS: &str = "a key id (1234abcd-12ab-34cd-56ef-1234567890ab or mrk-…), alias/NAME, or a KMS key or \
                             alias ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID or …:alias/NAME)";

/// Checks a KMS key reference offline: a key id, an alias name, or a KMS key or alias ARN in a known partition.
/// Anything else (an S3 or IAM ARN, a typo) would only fail at CreateRepository, after the push had started.
pub fn validate_kms_key(key: &str) -> anyhow::Result<()> {
    let is_hex = |text: &str, len: usize| text.len() == len && crate::digest::is_lower_hex(text);
    let is_key_id = |id: &str| {
        let parts: Vec<&str> = id.split('-').collect();
        let uuid = parts.len() == 5 && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(len, part)| is_hex(part, *len));
        uuid || id.strip_prefix("mrk-").is_some_and(|rest| is_hex(rest, 32))
    };
    let is_alias = |name: &str| {
        name.strip_prefix("alias/").is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 250
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
        })
    };
    let valid = if let Some(rest) = key.strip_prefix("arn:") {
        let fields: Vec<&str> = rest.splitn(5, ':').collect();
        match fields.as_slice() {
            [partition, "kms", region, account, resource] => {
                crate::host::Partition::from_arn_name(partition).is_some()
                    && crate::host::validate_region(region).is_ok()
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && (resource.strip_prefix("key/").is_some_and(is_key_id) || is_alias(resource))
            }
            _ => false,
        }
    } else {
        is_key_id(key) || is_alias(key)
    };
    if !valid {
        bail_input!("invalid KMS key '{key}': expected {KMS_KEY_FORMS}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    fn with(f: impl FnOnce(&mut RepositoryOptions)) -> RepositoryOptions {
        let mut opts = RepositoryOptions::default();
        f(&mut opts);
        opts
    }

    #[test]
    fn bad_settings_are_exit_2_and_name_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let not_json = dir.path().join("lifecycle.txt");
        std::fs::write(&not_json, "rules: []").unwrap();
        let no_rules = dir.path().join("norules.json");
        std::fs::write(&no_rules, "{\"other\": 1}").unwrap();
        let missing = dir.path().join("missing.json");
        let s = |v: &str| Some(v.to_string());
        let v = |items: &[&str]| items.iter().map(|i| i.to_string()).collect::<Vec<_>>();
        let cases: Vec<(RepositoryOptions, String)> = vec![
            (with(|o| o.tag_mutability = s("sometimes")), "sometimes".into()),
            (with(|o| (o.tag_mutability, o.immutable_tags) = (s("MUTABLE"), true)), "MUTABLE".into()),
            (with(|o| (o.tag_mutability, o.immutable_tags) = (s("mutable_with_exclusion"), true)), "MUTABLE".into()),
            (with(|o| o.tag_mutability = s("IMMUTABLE_WITH_EXCLUSION")), "IMMUTABLE_WITH_EXCLUSION".into()),
            (with(|o| (o.tag_mutability, o.mutability_exclusions) = (s("IMMUTABLE"), v(&["latest"]))), "latest".into()),
            (with(|o| o.mutability_exclusions = v(&["latest"])), "latest".into()),
            (
                with(|o| (o.immutable_tags, o.mutability_exclusions) = (true, v(&["a", "b", "c", "d", "e", "f"]))),
                "6".into(),
            ),
            (with(|o| (o.immutable_tags, o.mutability_exclusions) = (true, v(&["bad/tag"]))), "bad/tag".into()),
            (with(|o| (o.immutable_tags, o.mutability_exclusions) = (true, v(&[""]))), "''".into()),
            (with(|o| (o.immutable_tags, o.mutability_exclusions) = (true, v(&[&"x".repeat(129)]))), "xxxx".into()),
            (with(|o| (o.immutable_tags, o.mutability_exclusions) = (true, v(&["main", "main"]))), "main".into()),
            (with(|o| o.encryption = s("ROT13")), "ROT13".into()),
            (with(|o| (o.encryption, o.kms_key) = (s("AES256"), s("alias/mine"))), "alias/mine".into()),
            (with(|o| o.kms_key = s("has space")), "has space".into()),
            (with(|o| o.kms_key = s("arn:aws:s3:::my-bucket")), "arn:aws:s3:::my-bucket".into()),
            (with(|o| o.kms_key = s("arn:aws:iam::123456789012:role/x")), "expected a key id".into()),
            (with(|o| o.kms_key = s("arn:aws:kms:us-east-1:123456789012:bucket/x")), "bucket/x".into()),
            (with(|o| o.kms_key = s("arn:aws-mars:kms:us-east-1:123456789012:alias/x")), "aws-mars".into()),
            (
                with(|o| o.kms_key = s("arn:aws:kms:us-east-1:12345:key/1234abcd-12ab-34cd-56ef-1234567890ab")),
                "12345".into(),
            ),
            (with(|o| o.kms_key = s("1234abcd-12ab-34cd-56ef")), "1234abcd".into()),
            (with(|o| o.kms_key = s("my-key")), "my-key".into()),
            (with(|o| o.kms_key = s("alias/")), "alias/".into()),
            (with(|o| o.lifecycle_policy_file = Some(not_json.clone())), not_json.display().to_string()),
            (with(|o| o.lifecycle_policy_file = Some(no_rules.clone())), no_rules.display().to_string()),
            (with(|o| o.lifecycle_policy_file = Some(missing.clone())), missing.display().to_string()),
            (with(|o| o.repository_policy_file = Some(not_json.clone())), not_json.display().to_string()),
            (with(|o| o.repository_policy_file = Some(no_rules.clone())), "Statement".into()),
            (with(|o| o.tags = v(&["novalue"])), "novalue".into()),
            (with(|o| o.tags = v(&["=x"])), "=x".into()),
            (with(|o| o.tags = v(&["aws:team=x"])), "aws:team".into()),
            (with(|o| o.tags = v(&["team=a", "team=b"])), "team".into()),
            (with(|o| o.tags = v(&["team=a;b"])), "a;b".into()),
        ];
        for good in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/ecr",
            "alias/aws/ecr",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-cn:kms:cn-north-1:123456789012:alias/team/ecr",
            "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        ] {
            validate_kms_key(good).unwrap_or_else(|e| panic!("{good}: {e:#}"));
        }
        for (options, needle) in cases {
            let shown = format!("{options:?}");
            let error = RepositorySettings::validate(options).expect_err(&shown);
            assert_eq!(exit_code(&error), 2, "{shown}: {error:#}");
            assert!(format!("{error:#}").contains(&needle), "{shown}: {error:#} lacks {needle:?}");
        }
    }

    #[test]
    fn good_settings() {
        let dir = tempfile::tempdir().unwrap();
        let lifecycle = dir.path().join("lifecycle.json");
        std::fs::write(&lifecycle, "{\"rules\": []}\n").unwrap();
        let settings = RepositorySettings::validate(RepositoryOptions {
            immutable_tags: true,
            mutability_exclusions: vec!["latest".into(), "release-*".into()],
            kms_key: Some("alias/ecr".into()),
            lifecycle_policy_file: Some(lifecycle),
            tags: vec!["team = platform".into(), "cost-center=".into()],
            scan_on_push: Some(true),
            ..RepositoryOptions::default()
        })
        .unwrap();
        assert_eq!(settings.tag_mutability, Some(TagMutability::ImmutableWithExclusion));
        assert_eq!(settings.encryption, Some(Encryption::Kms { key: Some("alias/ecr".into()) }));
        assert_eq!(settings.lifecycle_policy.as_deref(), Some("{\"rules\": []}"));
        assert_eq!(settings.tags, vec![("team".into(), "platform".into()), ("cost-center".into(), String::new())]);

        let plain = RepositorySettings::validate(RepositoryOptions {
            tag_mutability: Some("immutable".into()),
            immutable_tags: true,
            encryption: Some("kms".into()),
            ..RepositoryOptions::default()
        })
        .unwrap();
        assert_eq!(plain.tag_mutability, Some(TagMutability::Immutable));
        assert_eq!(plain.encryption, Some(Encryption::Kms { key: None }));
        assert_eq!(RepositorySettings::validate(RepositoryOptions::default()).unwrap(), RepositorySettings::default());
    }
}
