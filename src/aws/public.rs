//! The ECR Public API of one authenticated session ([`PublicApi`]).
//!
//! ECR Public is one registry host (`public.ecr.aws`) whose API exists only in us-east-1, whatever region the job
//! runs in; the registry is named by an alias (`public.ecr.aws/<alias>`), which is the caller's default alias
//! (DescribeRegistries) when the user gives none. There is no BatchGetImage and no tag immutability: stored
//! manifests are read from the registry itself (the commands' business), every tag may move, and the repository's
//! settings are its catalog data, which the ECR Public Gallery shows.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_sdk_ecrpublic::types::Tag;

use super::ecr::{RegistryCredentials, decode_token};
use super::errors::ApiCall;
use super::images::StoredManifest;
use super::repository::{RepositoryInfo, RepositorySettings};
use crate::host::{PUBLIC_API_REGION, PUBLIC_HOST};

/// The ECR Public API client of a session, with what every call and its messages need.
pub(super) struct PublicApi {
    pub(super) client: aws_sdk_ecrpublic::Client,
    pub(super) caller_arn: Option<String>,
    /// `None` only in a token-only session ([`super::AwsSettings::for_token_only`]), whose one call,
    /// GetAuthorizationToken, names no account.
    pub(super) account: Option<String>,
    /// The alias the user named; `None` means the caller's default one.
    pub(super) alias: Option<String>,
    pub(super) endpoint: String,
    pub(super) resolved_alias: tokio::sync::OnceCell<String>,
}

impl PublicApi {
    pub(super) fn repository_arn(&self, name: &str) -> String {
        format!("arn:aws:ecr-public::{}:repository/{name}", self.account())
    }

    /// The caller's account for ARNs and messages (`*` in a token-only session, which names none).
    fn account(&self) -> &str {
        self.account.as_deref().unwrap_or("*")
    }

    fn call(&self, operation: &'static str, action: &'static str, name: Option<&str>) -> ApiCall {
        ApiCall {
            operation,
            action,
            subject: match name {
                Some(name) => format!("for public repository '{name}' (ECR Public, {PUBLIC_API_REGION})"),
                None => format!("on ECR Public ({PUBLIC_API_REGION})"),
            },
            resource: name.map_or_else(|| "*".to_string(), |n| self.repository_arn(n)),
            principal: self.caller_arn.clone(),
            hint: format!(
                "Run `ecr-ship policy --registry {PUBLIC_HOST} --repository {}` for the least-privilege policy",
                name.unwrap_or("<repository>")
            ),
            endpoint: self.endpoint.clone(),
        }
    }

    /// A new registry password from ECR Public's GetAuthorizationToken.
    pub(super) async fn fetch_authorization_token(&self) -> anyhow::Result<RegistryCredentials> {
        let call = self.call("GetAuthorizationToken", "ecr-public:GetAuthorizationToken", None);
        let output = self.client.get_authorization_token().send().await.map_err(|e| call.error(e))?;
        let Some(data) = output.authorization_data() else {
            anyhow::bail!("{}: the response carries no authorization data", call.describe());
        };
        let Some(token) = data.authorization_token() else {
            anyhow::bail!("{}: the response carries no authorization token", call.describe());
        };
        let (username, password) = decode_token(token).map_err(|e| e.context(call.describe()))?;
        Ok(RegistryCredentials {
            username,
            password,
            proxy_endpoint: format!("https://{PUBLIC_HOST}"),
            expires_at: data.expires_at().and_then(|t| SystemTime::try_from(*t).ok()),
        })
    }

    /// The alias the registry is addressed by: the one given, else the caller's default alias (DescribeRegistries;
    /// ECR Public assigns it when the account's first public repository is created).
    pub(super) async fn alias(&self) -> anyhow::Result<String> {
        if let Some(alias) = &self.alias {
            return Ok(alias.clone());
        }
        self.resolved_alias.get_or_try_init(|| self.default_alias()).await.cloned()
    }

    async fn default_alias(&self) -> anyhow::Result<String> {
        let call = self.call("DescribeRegistries", "ecr-public:DescribeRegistries", None);
        let output = self.client.describe_registries().send().await.map_err(|e| call.error(e))?;
        let registry = output.registries().iter().find(|r| Some(r.registry_id()) == self.account.as_deref());
        let aliases = registry.map(|r| r.aliases()).unwrap_or_default();
        let active = |a: &&aws_sdk_ecrpublic::types::RegistryAlias| a.status().as_str() == "ACTIVE";
        let chosen = aliases
            .iter()
            .filter(active)
            .find(|a| a.default_registry_alias())
            .or_else(|| aliases.iter().filter(active).find(|a| a.primary_registry_alias()))
            .or_else(|| aliases.iter().find(active));
        match chosen {
            Some(alias) => {
                crate::names::validate_public_alias(alias.name())
                    .map_err(|e| e.context(format!("{} returned an alias that is not one", call.describe())))?;
                Ok(alias.name().to_string())
            }
            None => anyhow::bail!(
                "{}: account {} has no active ECR Public registry alias yet (ECR Public assigns one with the first \
                 public repository); {}, or {}",
                call.describe(),
                self.account(),
                crate::advice::pass("create-repository", None),
                crate::advice::pass("registry", Some(&format!("{PUBLIC_HOST}/ALIAS")))
            ),
        }
    }

    pub(super) async fn describe_repository(&self, name: &str) -> anyhow::Result<Option<RepositoryInfo>> {
        crate::names::validate_public_repository(name)?;
        let call = self.call("DescribeRepositories", "ecr-public:DescribeRepositories", Some(name));
        match self.client.describe_repositories().repository_names(name).send().await {
            Ok(output) => Ok(output.repositories().first().map(|repo| self.info(repo))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception()) => Ok(None),
            Err(e) => Err(call.error(e)),
        }
    }

    fn info(&self, repo: &aws_sdk_ecrpublic::types::Repository) -> RepositoryInfo {
        RepositoryInfo {
            name: repo.repository_name().unwrap_or_default().to_string(),
            uri: repo.repository_uri().unwrap_or_default().to_string(),
            arn: repo.repository_arn().unwrap_or_default().to_string(),
            registry_id: repo.registry_id().unwrap_or_default().to_string(),
            // ECR Public has no immutability setting: every tag may move.
            tag_mutability: "MUTABLE".to_string(),
            exclusion_filters: Vec::new(),
            scan_on_push: false,
            encryption: "AES256".to_string(),
            kms_key: None,
            created: false,
            updated: false,
        }
    }

    /// Makes sure the public repository exists: created with its catalog data and tags when missing and `create`
    /// is set; an existing one gets the catalog data only when `update_existing` is set.
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
                "public repository '{name}' does not exist in account {}'s ECR Public registry; pass \
                 --create-repository to create it",
                self.account()
            );
        }
        let call = self.call("CreateRepository", "ecr-public:CreateRepository", Some(name));
        let mut request = self.client.create_repository().repository_name(name);
        if !settings.catalog.is_empty() {
            request = request.catalog_data(settings.catalog.to_sdk());
        }
        for (key, value) in &settings.tags {
            request = request.tags(Tag::builder().key(key).value(value).build());
        }
        match request.send().await {
            Ok(output) => match output.repository() {
                Some(repo) => {
                    let info = self.info(repo);
                    crate::log::info(format!("created public repository {}", info.uri));
                    Ok(RepositoryInfo { created: true, ..info })
                }
                None => anyhow::bail!("{}: the response carries no repository", call.describe()),
            },
            Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_already_exists_exception()) => {
                match self.describe_repository(name).await? {
                    Some(existing) => self.existing(name, existing, settings, update_existing).await,
                    None => Err(call.error(e)),
                }
            }
            Err(e) => Err(call.error(e)),
        }
    }

    async fn existing(
        &self,
        name: &str,
        existing: RepositoryInfo,
        settings: &RepositorySettings,
        update_existing: bool,
    ) -> anyhow::Result<RepositoryInfo> {
        if !update_existing || settings.catalog.is_empty() {
            return Ok(existing);
        }
        let call = self.call("PutRepositoryCatalogData", "ecr-public:PutRepositoryCatalogData", Some(name));
        self.client
            .put_repository_catalog_data()
            .repository_name(name)
            .catalog_data(settings.catalog.to_sdk())
            .send()
            .await
            .map_err(|e| call.error(e))?;
        crate::log::info(format!("updated the catalog data of public repository {}", existing.uri));
        Ok(RepositoryInfo { updated: true, ..existing })
    }

    /// Which of `tags` exist, with their digests: DescribeImageTags, all pages (it takes no tag filter).
    pub(super) async fn existing_tags(
        &self,
        repository: &str,
        tags: &[String],
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let call = self.call("DescribeImageTags", "ecr-public:DescribeImageTags", Some(repository));
        let mut found = BTreeMap::new();
        let mut pages = self.client.describe_image_tags().repository_name(repository).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                // Asked alongside DescribeRepositories: a repository that does not exist (yet) has no tags.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception()) => break,
                Err(e) => return Err(call.error(e)),
            };
            for detail in page.image_tag_details() {
                let (Some(tag), Some(digest)) =
                    (detail.image_tag(), detail.image_detail().and_then(|d| d.image_digest()))
                else {
                    continue;
                };
                if tags.iter().any(|t| t == tag) {
                    found.insert(tag.to_string(), digest.to_string());
                }
            }
        }
        Ok(found)
    }

    /// The digest of every manifest the repository stores (images, index children, attestations): DescribeImages,
    /// all pages. For the storage summary, which reads each manifest from the registry.
    pub(super) async fn image_digests(&self, repository: &str) -> anyhow::Result<Vec<String>> {
        let call = self.call("DescribeImages", "ecr-public:DescribeImages", Some(repository));
        let mut digests = Vec::new();
        let mut pages =
            self.client.describe_images().repository_name(repository).max_results(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| call.error(e))?;
            digests.extend(page.image_details().iter().filter_map(|d| d.image_digest().map(String::from)));
        }
        Ok(digests)
    }

    /// Points `tag` at `manifest` with ECR Public's PutImage. Returns false when the tag already pointed at it.
    pub(super) async fn put_tag(&self, repository: &str, manifest: &StoredManifest, tag: &str) -> anyhow::Result<bool> {
        let call = self.call("PutImage", "ecr-public:PutImage", Some(repository));
        let result = self
            .client
            .put_image()
            .repository_name(repository)
            .image_manifest(&manifest.bytes)
            .image_manifest_media_type(&manifest.media_type)
            .image_digest(&manifest.digest)
            .image_tag(tag)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_image_already_exists_exception()) => {
                let now = self.existing_tags(repository, &[tag.to_string()]).await?;
                if now.get(tag) == Some(&manifest.digest) {
                    return Ok(false);
                }
                Err(call.error(error))
            }
            Err(error) => Err(call.error(error)),
        }
    }
}
