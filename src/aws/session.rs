//! The [`Session`]: authenticated AWS access for one region, defined and implemented here only. It is the façade
//! the commands use: who the credentials belong to, the registry password (fetched once and reused), and the
//! repository and image calls, which it hands to the ECR API of `ecr.rs`, `repository.rs` and `images.rs`, or,
//! for an ECR Public registry, to the ECR Public API of `public.rs`.

use std::collections::BTreeMap;
use std::fmt;

use aws_config::SdkConfig;

use super::ecr::{EcrApi, RegistryCredentials};
use super::images::{self, StoredManifest};
use super::public::PublicApi;
use super::repository::{RepositoryInfo, RepositorySettings};
use super::scan::{self, ScanFindings};
use crate::host::Partition;

/// Authenticated AWS access for one region: the SDK configuration carrying the final credentials, who they belong
/// to, and the ECR API every registry call goes through.
pub struct Session {
    sdk_config: SdkConfig,
    api: EcrApi,
    /// Set when the target is an ECR Public registry: then every registry call goes to it, not to `api`.
    public: Option<PublicApi>,
    /// GetAuthorizationToken is asked once per session, that is once per region.
    token: tokio::sync::OnceCell<RegistryCredentials>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("region", &self.api.region)
            .field("caller_arn", &self.api.caller_arn)
            .field("account", &self.api.account)
            .field("registry_id", &self.api.registry_id)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(super) fn new(sdk_config: SdkConfig, api: EcrApi, public: Option<PublicApi>) -> Session {
        Session { sdk_config, api, public, token: tokio::sync::OnceCell::new() }
    }

    /// True when the target is an ECR Public registry.
    pub fn is_public(&self) -> bool {
        self.public.is_some()
    }

    /// The ECR Public registry alias (the one given, else the caller's default); `None` for private ECR.
    pub async fn public_alias(&self) -> anyhow::Result<Option<String>> {
        match &self.public {
            Some(public) => public.alias().await.map(Some),
            None => Ok(None),
        }
    }

    /// SDK configuration with the final credentials, retries and timeouts, for clients other layers build.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk_config
    }

    /// The access key id of the session's credentials: who is calling, as precisely as the credentials say (a role
    /// session has a key of its own). Resolved once by `connect`, so this asks nothing again.
    pub async fn access_key_id(&self) -> anyhow::Result<String> {
        use aws_credential_types::provider::ProvideCredentials;
        let provider = self
            .sdk_config
            .credentials_provider()
            .ok_or_else(|| anyhow::anyhow!("the AWS SDK configuration has no credentials provider"))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| anyhow::anyhow!("resolving the AWS credentials: {}", super::errors::chain_in_words(&e)))?;
        Ok(credentials.access_key_id().to_string())
    }

    /// The ECR API client (endpoint overrides from `AWS_ENDPOINT_URL_ECR` already applied).
    pub fn ecr_client(&self) -> &aws_sdk_ecr::Client {
        &self.api.client
    }

    /// ARN of the authenticated principal, as AssumeRole or GetCallerIdentity reported it; `None` when neither
    /// was asked (default-chain credentials and a given private registry host).
    pub fn caller_arn(&self) -> Option<&str> {
        self.api.caller_arn.as_deref()
    }

    /// Account of the authenticated principal (the registry's, when the principal was not asked); `None` when no
    /// answer has named it (private ECR with the default chain and no registry given).
    pub fn account(&self) -> Option<&str> {
        self.api.account.as_deref()
    }

    /// Account that owns the registry: the explicit registry host's, or else the caller's, when known.
    pub fn registry_account(&self) -> Option<&str> {
        self.api.registry_account()
    }

    pub fn region(&self) -> &str {
        &self.api.region
    }

    pub fn partition(&self) -> Partition {
        self.api.partition
    }

    /// ARN of a repository in the target registry, for messages and TagResource.
    pub fn repository_arn(&self, name: &str) -> String {
        match &self.public {
            Some(public) => public.repository_arn(name),
            None => self.api.repository_arn(name),
        }
    }

    /// The registry credentials for this session's region, fetched on first use and reused after.
    pub async fn authorization_token(&self) -> anyhow::Result<RegistryCredentials> {
        self.token.get_or_try_init(|| self.fresh_authorization_token()).await.cloned()
    }

    /// A new token, bypassing the cache: for the one re-authentication after a registry answered 401 mid-push.
    pub async fn fresh_authorization_token(&self) -> anyhow::Result<RegistryCredentials> {
        match &self.public {
            Some(public) => public.fetch_authorization_token().await,
            None => self.api.fetch_authorization_token().await,
        }
    }

    /// The repository, or `None` when it does not exist.
    pub async fn describe_repository(&self, name: &str) -> anyhow::Result<Option<RepositoryInfo>> {
        match &self.public {
            Some(public) => public.describe_repository(name).await,
            None => self.api.describe_repository(name).await,
        }
    }

    /// Makes sure the repository exists: creates it with `settings` when missing and `create` is set, and applies
    /// `settings` to an existing one only when `update_existing` is set.
    pub async fn ensure_repository(
        &self,
        name: &str,
        settings: &RepositorySettings,
        create: bool,
        update_existing: bool,
    ) -> anyhow::Result<RepositoryInfo> {
        match &self.public {
            Some(public) => public.ensure_repository(name, settings, create, update_existing).await,
            None => self.api.ensure_repository(name, settings, create, update_existing).await,
        }
    }

    /// Which of `digests` the repository already stores, when the API can say so without the registry: `None` for
    /// ECR Public, whose pushes check each blob on the registry instead.
    pub async fn present_blobs(
        &self,
        repository: &str,
        digests: &[String],
    ) -> anyhow::Result<Option<std::collections::HashSet<String>>> {
        match &self.public {
            Some(_) => Ok(None),
            None => images::present_blobs(&self.api, repository, digests).await.map(Some),
        }
    }

    /// Which of `tags` exist in `repository`, and the digest each points at.
    pub async fn existing_tags(&self, repository: &str, tags: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
        match &self.public {
            Some(public) => public.existing_tags(repository, tags).await,
            None => images::existing_tags(&self.api, repository, tags).await,
        }
    }

    /// A stored manifest, by tag or digest, with its exact bytes and media type. ECR Public's API has no
    /// BatchGetImage: there the manifest is read from the registry, which is the caller's to do.
    pub async fn get_manifest(&self, repository: &str, reference: &str) -> anyhow::Result<StoredManifest> {
        if self.public.is_some() {
            anyhow::bail!(
                "the ECR Public API cannot read manifests; read '{reference}' of '{repository}' from the registry"
            );
        }
        images::get_manifest(&self.api, repository, reference).await
    }

    /// Points `tag` at `manifest` with PutImage. Returns false when the tag already pointed at it.
    pub async fn put_tag(&self, repository: &str, manifest: &StoredManifest, tag: &str) -> anyhow::Result<bool> {
        match &self.public {
            Some(public) => public.put_tag(repository, manifest, tag).await,
            None => images::put_tag(&self.api, repository, manifest, tag).await,
        }
    }

    /// The digest of every manifest an ECR Public repository stores (its DescribeImages, all pages), for the
    /// storage summary. Private ECR is refused: its walk lists and reads with the ECR API ([`super::storage`]).
    pub async fn public_image_digests(&self, repository: &str) -> anyhow::Result<Vec<String>> {
        match &self.public {
            Some(public) => public.image_digests(repository).await,
            None => anyhow::bail!("'{repository}' is a private ECR repository, not an ECR Public one"),
        }
    }

    /// Every image of `repository` with its tags, push time and manifest facts, for `prune` to plan over. ECR
    /// Public is refused: its API has no BatchGetImage, and a prune must read every manifest.
    pub async fn repository_images(&self, repository: &str) -> anyhow::Result<Vec<crate::prune::StoredImage>> {
        if self.public.is_some() {
            anyhow::bail!("prune works on private ECR repositories: the ECR Public API cannot read manifests");
        }
        super::prune::repository_images(&self.api, repository).await
    }

    /// Every tag of `repository` now, by digest (ListImages), for prune's check before each delete wave.
    pub async fn current_tags(
        &self,
        repository: &str,
    ) -> anyhow::Result<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>> {
        if self.public.is_some() {
            anyhow::bail!("prune works on private ECR repositories");
        }
        super::prune::current_tags(&self.api, repository).await
    }

    /// BatchDeleteImage of `images` (at most 100 a call), returning the ids ECR refused; ids already gone are no
    /// failure.
    pub async fn delete_images(
        &self,
        repository: &str,
        images: &[crate::prune::ImageRef],
    ) -> anyhow::Result<Vec<super::prune::DeleteFailure>> {
        if self.public.is_some() {
            anyhow::bail!("prune works on private ECR repositories");
        }
        super::prune::delete_images(&self.api, repository, images).await
    }

    /// The findings of the image's scan (tag or digest), waited for within `timeout`; a basic scan is started
    /// when the image has none. ECR Public does not scan.
    pub async fn wait_for_scan(
        &self,
        repository: &str,
        reference: &str,
        timeout: std::time::Duration,
    ) -> anyhow::Result<ScanFindings> {
        if self.public.is_some() {
            anyhow::bail!("ECR Public does not scan images: the vulnerability gate is for private ECR repositories");
        }
        scan::wait_for_findings(&self.api, repository, reference, timeout).await
    }
}
