//! The calls that check, create or update a repository: DescribeRepositories, CreateRepository, then
//! PutImageTagMutability, PutImageScanningConfiguration, TagResource, PutLifecyclePolicy and SetRepositoryPolicy
//! with the settings [`RepositorySettings::validate`] checked offline (in `repository_settings.rs`).
//!
//! An existing repository is left exactly as it is unless the caller asks for `update_existing`: a push step
//! silently rewriting a repository's policies would surprise whoever manages them elsewhere (Terraform, console).

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType, Repository, Tag,
};

use super::ecr::EcrApi;
use super::errors::{ApiCall, policy_hint};
use super::repository_settings::Encryption;
pub use super::repository_settings::RepositorySettings;
use crate::names::validate_repository;
use crate::tag_policy::{Mutability, TagMutability};

/// ECR's spelling of a mode, for the SDK.
fn mutability_to_sdk(mode: TagMutability) -> ImageTagMutability {
    ImageTagMutability::from(mode.as_str())
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

    fn repository_call(&self, operation: &'static str, action: &'static str, name: &str) -> ApiCall {
        ApiCall {
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
            let registry = match self.registry_account() {
                Some(account) => format!("registry {account} ({})", self.region),
                None => format!("the caller's registry in {}", self.region),
            };
            anyhow::bail!(
                "repository '{name}' does not exist in {registry}; {} to create it",
                crate::advice::pass("create-repository", None)
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
