//! Repository settings (validated without the network) and the calls that check, create or update a repository:
//! tag mutability with exclusion filters, scan on push, encryption, lifecycle policy, repository policy, tags.
//!
//! An existing repository is left exactly as it is unless the caller asks for `update_existing`: a push step
//! silently rewriting a repository's policies would surprise whoever manages them elsewhere (Terraform, console).

use std::path::{Path, PathBuf};

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType, Repository, Tag,
};

use super::ecr::EcrApi;
use super::errors::{Call, policy_hint};
use crate::bail_input;
use crate::names::validate_repository;
use crate::tag_policy::{Mutability, TagMutability};

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

/// ECR's spelling of a mode, for the SDK.
fn mutability_to_sdk(mode: TagMutability) -> ImageTagMutability {
    ImageTagMutability::from(mode.as_str())
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
            (Some(path), _) => Some(read_policy(path, "lifecycle policy", "rules", LIFECYCLE_POLICY_MAX)?),
            (None, Some(text)) => {
                Some(check_policy(text, "inline", "lifecycle policy", "rules", LIFECYCLE_POLICY_MAX)?)
            }
            (None, None) => None,
        };
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

/// A repository as ECR describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryInfo {
    pub name: String,
    /// `<account>.dkr.ecr.<region>.<suffix>/<name>`.
    pub uri: String,
    pub arn: String,
    pub registry_id: String,
    /// `MUTABLE`, `IMMUTABLE`, `IMMUTABLE_WITH_EXCLUSION` or `MUTABLE_WITH_EXCLUSION`.
    pub tag_mutability: String,
    pub exclusion_filters: Vec<String>,
    pub scan_on_push: bool,
    /// `AES256` or `KMS`.
    pub encryption: String,
    pub kms_key: Option<String>,
    /// True when this call created it.
    pub created: bool,
    /// True when this call changed an existing repository's settings.
    pub updated: bool,
}

impl RepositoryInfo {
    /// The repository's tag mutability, typed, for the tag policy. A mode this version does not know is treated
    /// as immutable: refusing to move a tag is the safe reading.
    pub fn mutability(&self) -> Mutability {
        Mutability {
            mode: TagMutability::parse(&self.tag_mutability).unwrap_or(TagMutability::Immutable),
            exclusions: self.exclusion_filters.clone(),
        }
    }

    fn from_sdk(repo: &Repository) -> RepositoryInfo {
        RepositoryInfo {
            name: repo.repository_name().unwrap_or_default().to_string(),
            uri: repo.repository_uri().unwrap_or_default().to_string(),
            arn: repo.repository_arn().unwrap_or_default().to_string(),
            registry_id: repo.registry_id().unwrap_or_default().to_string(),
            // ECR omits the field for repositories that never changed it; the API default is MUTABLE.
            tag_mutability: repo.image_tag_mutability().map_or("MUTABLE", |m| m.as_str()).to_string(),
            exclusion_filters: repo
                .image_tag_mutability_exclusion_filters()
                .iter()
                .map(|f| f.filter().to_string())
                .collect(),
            scan_on_push: repo.image_scanning_configuration().is_some_and(|c| c.scan_on_push()),
            encryption: repo.encryption_configuration().map_or("AES256", |e| e.encryption_type().as_str()).to_string(),
            kms_key: repo.encryption_configuration().and_then(|e| e.kms_key()).map(str::to_string),
            created: false,
            updated: false,
        }
    }
}

impl EcrApi {
    /// ARN of a repository in the target registry, for messages and TagResource.
    pub(super) fn repository_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:ecr:{}:{}:repository/{name}",
            self.partition.arn_name(),
            self.region,
            self.registry_account_name()
        )
    }

    /// Turns the SDK error of a call on repository `name` into an error naming the call, with the teaching message
    /// (IAM action, resource ARN, `ecr-ship policy`) when the call was denied.
    pub(super) fn explain<E>(
        &self,
        operation: &'static str,
        action: &'static str,
        name: &str,
        error: aws_sdk_ecr::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    ) -> anyhow::Error
    where
        E: aws_sdk_ecr::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.repository_call(operation, action, name).error(error)
    }

    fn repository_call(&self, operation: &'static str, action: &'static str, name: &str) -> Call {
        Call {
            operation,
            action,
            subject: format!("for '{name}' in {}", self.region),
            resource: self.repository_arn(name),
            principal: self.caller_arn.clone(),
            hint: policy_hint(Some(name)),
            endpoint: self.endpoint.clone(),
        }
    }

    /// The repository, or `None` when it does not exist.
    pub(super) async fn describe_repository(&self, name: &str) -> anyhow::Result<Option<RepositoryInfo>> {
        validate_repository(name)?;
        let call = self.repository_call("DescribeRepositories", "ecr:DescribeRepositories", name);
        let result = self
            .client
            .describe_repositories()
            .set_registry_id(self.registry_id.clone())
            .repository_names(name)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.repositories().first().map(RepositoryInfo::from_sdk)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception()) => Ok(None),
            Err(e) => Err(call.error(e)),
        }
    }

    /// Makes sure the repository exists: creates it with `settings` when missing and `create` is set, and applies
    /// `settings` to an existing one only when `update_existing` is set.
    pub(super) async fn ensure_repository(
        &self,
        name: &str,
        settings: &RepositorySettings,
        create: bool,
        update_existing: bool,
    ) -> anyhow::Result<RepositoryInfo> {
        if let Some(existing) = self.describe_repository(name).await? {
            return self.existing(name, existing, settings, update_existing).await;
        }
        if !create {
            anyhow::bail!(
                "repository '{name}' does not exist in registry {} ({}); pass --create-repository to create it",
                self.registry_account_name(),
                self.region
            );
        }
        let call = self.repository_call("CreateRepository", "ecr:CreateRepository", name);
        let mut request = self
            .client
            .create_repository()
            .set_registry_id(self.registry_id.clone())
            .repository_name(name)
            .set_image_tag_mutability(settings.tag_mutability.map(mutability_to_sdk))
            .set_image_tag_mutability_exclusion_filters(exclusion_filters(settings)?)
            .set_image_scanning_configuration(
                settings.scan_on_push.map(|on| ImageScanningConfiguration::builder().scan_on_push(on).build()),
            )
            .set_encryption_configuration(encryption_configuration(settings)?);
        for (key, value) in &settings.tags {
            request = request.tags(Tag::builder().key(key).value(value).build()?);
        }
        let repository = match request.send().await {
            Ok(output) => match output.repository() {
                Some(repo) => RepositoryInfo::from_sdk(repo),
                None => anyhow::bail!("{}: the response carries no repository", call.describe()),
            },
            // Another job created it between our check and our create: treat it as existing.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_already_exists_exception()) => {
                match self.describe_repository(name).await? {
                    Some(existing) => return self.existing(name, existing, settings, update_existing).await,
                    None => return Err(call.error(e)),
                }
            }
            Err(e) => return Err(call.error(e)),
        };
        crate::log::info(format!("created repository {}", repository.uri));
        self.put_policies(name, settings)
            .await
            .map_err(|e| e.context(format!("repository '{name}' was created, but applying its policies failed")))?;
        Ok(RepositoryInfo { created: true, ..repository })
    }

    async fn existing(
        &self,
        name: &str,
        existing: RepositoryInfo,
        settings: &RepositorySettings,
        update_existing: bool,
    ) -> anyhow::Result<RepositoryInfo> {
        if !update_existing || *settings == RepositorySettings::default() {
            return Ok(existing);
        }
        if let Some(wanted) = &settings.encryption {
            let same = match wanted {
                Encryption::Aes256 => existing.encryption == "AES256",
                Encryption::Kms { key } => {
                    existing.encryption == "KMS" && (key.is_none() || key.as_deref() == existing.kms_key.as_deref())
                }
            };
            if !same {
                crate::log::info(format!(
                    "warning: repository '{name}' keeps its encryption ({}): ECR cannot change encryption after creation",
                    existing.encryption
                ));
            }
        }
        if let Some(mutability) = settings.tag_mutability {
            let call = self.repository_call("PutImageTagMutability", "ecr:PutImageTagMutability", name);
            self.client
                .put_image_tag_mutability()
                .set_registry_id(self.registry_id.clone())
                .repository_name(name)
                .image_tag_mutability(mutability_to_sdk(mutability))
                .set_image_tag_mutability_exclusion_filters(exclusion_filters(settings)?)
                .send()
                .await
                .map_err(|e| call.error(e))?;
        }
        if let Some(on) = settings.scan_on_push {
            let call = self.repository_call("PutImageScanningConfiguration", "ecr:PutImageScanningConfiguration", name);
            self.client
                .put_image_scanning_configuration()
                .set_registry_id(self.registry_id.clone())
                .repository_name(name)
                .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(on).build())
                .send()
                .await
                .map_err(|e| call.error(e))?;
        }
        if !settings.tags.is_empty() {
            let call = self.repository_call("TagResource", "ecr:TagResource", name);
            let mut request = self.client.tag_resource().resource_arn(&existing.arn);
            for (key, value) in &settings.tags {
                request = request.tags(Tag::builder().key(key).value(value).build()?);
            }
            request.send().await.map_err(|e| call.error(e))?;
        }
        self.put_policies(name, settings).await?;
        let updated = self.describe_repository(name).await?.unwrap_or(existing);
        Ok(RepositoryInfo { updated: true, ..updated })
    }

    /// PutLifecyclePolicy and SetRepositoryPolicy, for whichever of the two is set.
    async fn put_policies(&self, name: &str, settings: &RepositorySettings) -> anyhow::Result<()> {
        if let Some(policy) = &settings.lifecycle_policy {
            let call = self.repository_call("PutLifecyclePolicy", "ecr:PutLifecyclePolicy", name);
            self.client
                .put_lifecycle_policy()
                .set_registry_id(self.registry_id.clone())
                .repository_name(name)
                .lifecycle_policy_text(policy)
                .send()
                .await
                .map_err(|e| call.error(e))?;
        }
        if let Some(policy) = &settings.repository_policy {
            let call = self.repository_call("SetRepositoryPolicy", "ecr:SetRepositoryPolicy", name);
            self.client
                .set_repository_policy()
                .set_registry_id(self.registry_id.clone())
                .repository_name(name)
                .policy_text(policy)
                .send()
                .await
                .map_err(|e| call.error(e))?;
        }
        Ok(())
    }
}

fn exclusion_filters(settings: &RepositorySettings) -> anyhow::Result<Option<Vec<ImageTagMutabilityExclusionFilter>>> {
    if settings.exclusion_filters.is_empty() {
        return Ok(None);
    }
    let filters = settings
        .exclusion_filters
        .iter()
        .map(|filter| {
            ImageTagMutabilityExclusionFilter::builder()
                .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
                .filter(filter)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(filters))
}

fn encryption_configuration(settings: &RepositorySettings) -> anyhow::Result<Option<EncryptionConfiguration>> {
    let Some(encryption) = &settings.encryption else {
        return Ok(None);
    };
    let config = match encryption {
        Encryption::Aes256 => EncryptionConfiguration::builder().encryption_type(EncryptionType::Aes256).build()?,
        Encryption::Kms { key } => {
            EncryptionConfiguration::builder().encryption_type(EncryptionType::Kms).set_kms_key(key.clone()).build()?
        }
    };
    Ok(Some(config))
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
