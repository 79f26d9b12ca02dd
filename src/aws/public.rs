//! The ECR Public API of one authenticated session ([`PublicApi`]) and the catalog data of a public repository
//! ([`CatalogData`], validated without the network).
//!
//! ECR Public is one registry host (`public.ecr.aws`) whose API exists only in us-east-1, whatever region the job
//! runs in; the registry is named by an alias (`public.ecr.aws/<alias>`), which is the caller's default alias
//! (DescribeRegistries) when the user gives none. There is no BatchGetImage and no tag immutability: stored
//! manifests are read from the registry itself (the commands' business), every tag may move, and the repository's
//! settings are its catalog data, which the ECR Public Gallery shows.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use aws_sdk_ecrpublic::primitives::Blob;
use aws_sdk_ecrpublic::types::{RepositoryCatalogDataInput, Tag};

use super::ecr::{RegistryCredentials, decode_token};
use super::errors::Call;
use super::images::StoredManifest;
use super::repository::{RepositoryInfo, RepositorySettings};
use crate::bail_input;
use crate::host::{PUBLIC_API_REGION, PUBLIC_HOST};

/// Limits of `RepositoryCatalogDataInput` in the ECR Public API reference.
const DESCRIPTION_MAX: usize = 1024;
const LONG_TEXT_MAX: usize = 25600;
const BADGES_MAX: usize = 50;
const BADGE_LEN: std::ops::RangeInclusive<usize> = 1..=50;
/// The API model's limit for `logoImageBlob` (the decoded bytes).
const LOGO_MAX: usize = 512_000;
/// The badges the ECR Public Gallery shows and filters by; others are stored but not discoverable.
const GALLERY_ARCHITECTURES: [&str; 4] = ["ARM", "ARM 64", "x86", "x86-64"];
const GALLERY_OPERATING_SYSTEMS: [&str; 2] = ["Linux", "Windows"];

/// A public repository's catalog data as the flags or config file gave it, before validation.
#[derive(Debug, Clone, Default)]
pub struct CatalogOptions {
    pub description: Option<String>,
    pub about_text: Option<String>,
    pub about_text_file: Option<std::path::PathBuf>,
    pub usage_text: Option<String>,
    pub usage_text_file: Option<std::path::PathBuf>,
    pub architectures: Vec<String>,
    pub operating_systems: Vec<String>,
    pub logo_file: Option<std::path::PathBuf>,
}

/// Validated catalog data; empty fields are left out of the request (and so left as they are on an update).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CatalogData {
    pub description: Option<String>,
    pub about_text: Option<String>,
    pub usage_text: Option<String>,
    pub architectures: Vec<String>,
    pub operating_systems: Vec<String>,
    /// The logo's bytes (PNG or JPEG), read from its file.
    pub logo: Option<Vec<u8>>,
}

impl std::fmt::Debug for CatalogData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogData")
            .field("description", &self.description)
            .field("about_text", &self.about_text.as_ref().map(String::len))
            .field("usage_text", &self.usage_text.as_ref().map(String::len))
            .field("architectures", &self.architectures)
            .field("operating_systems", &self.operating_systems)
            .field("logo", &self.logo.as_ref().map(Vec::len))
            .finish()
    }
}

impl CatalogData {
    /// Checks the options against the API's limits and reads the files. No network. Badges the Gallery does not
    /// know are accepted (the API stores them) with a warning, since they will not show.
    pub fn validate(opts: CatalogOptions) -> anyhow::Result<CatalogData> {
        if let Some(description) = &opts.description
            && description.chars().count() > DESCRIPTION_MAX
        {
            bail_input!(
                "the repository description is {} characters: ECR Public allows at most {DESCRIPTION_MAX}",
                description.chars().count()
            );
        }
        let about_text = long_text("about text", opts.about_text, opts.about_text_file.as_deref())?;
        let usage_text = long_text("usage text", opts.usage_text, opts.usage_text_file.as_deref())?;
        let architectures = badges("architecture", &opts.architectures, &GALLERY_ARCHITECTURES)?;
        let operating_systems = badges("operating system", &opts.operating_systems, &GALLERY_OPERATING_SYSTEMS)?;
        let logo = match &opts.logo_file {
            Some(path) => Some(read_logo(path)?),
            None => None,
        };
        Ok(CatalogData {
            description: opts.description.filter(|d| !d.trim().is_empty()),
            about_text,
            usage_text,
            architectures,
            operating_systems,
            logo,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == CatalogData::default()
    }

    fn to_sdk(&self) -> RepositoryCatalogDataInput {
        RepositoryCatalogDataInput::builder()
            .set_description(self.description.clone())
            .set_about_text(self.about_text.clone())
            .set_usage_text(self.usage_text.clone())
            .set_architectures((!self.architectures.is_empty()).then(|| self.architectures.clone()))
            .set_operating_systems((!self.operating_systems.is_empty()).then(|| self.operating_systems.clone()))
            .set_logo_image_blob(self.logo.clone().map(Blob::new))
            .build()
    }
}

/// Markdown given inline or as a file (the file wins, as with the policy settings).
fn long_text(what: &str, inline: Option<String>, file: Option<&Path>) -> anyhow::Result<Option<String>> {
    let text =
        match file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                crate::error::bad_input(format!("cannot read the {what} file '{}': {e}", path.display()))
            })?),
            None => inline,
        };
    let text = text.filter(|t| !t.trim().is_empty());
    if let Some(text) = &text
        && text.chars().count() > LONG_TEXT_MAX
    {
        bail_input!("the {what} is {} characters: ECR Public allows at most {LONG_TEXT_MAX}", text.chars().count());
    }
    Ok(text)
}

fn badges(what: &str, values: &[String], gallery: &[&str]) -> anyhow::Result<Vec<String>> {
    let values: Vec<String> = values.iter().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
    if values.len() > BADGES_MAX {
        bail_input!("{} {what} badges given: ECR Public allows at most {BADGES_MAX}", values.len());
    }
    for value in &values {
        if !BADGE_LEN.contains(&value.chars().count()) {
            bail_input!("invalid {what} '{value}': ECR Public takes 1-50 characters");
        }
        if !gallery.contains(&value.as_str()) {
            crate::log::info(format!(
                "warning: {what} '{value}' is stored but the ECR Public Gallery only shows {}",
                gallery.iter().map(|g| format!("'{g}'")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(values)
}

fn read_logo(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .map_err(|e| crate::error::bad_input(format!("cannot read the logo file '{}': {e}", path.display())))?;
    let png = bytes.starts_with(b"\x89PNG\r\n\x1a\n");
    let jpeg = bytes.starts_with(&[0xff, 0xd8, 0xff]);
    if !png && !jpeg {
        bail_input!("the logo file '{}' is neither a PNG nor a JPEG image", path.display());
    }
    if bytes.len() > LOGO_MAX {
        bail_input!("the logo file '{}' is {} bytes: ECR Public takes at most {LOGO_MAX}", path.display(), bytes.len());
    }
    Ok(bytes)
}

/// The ECR Public API client of a session, with what every call and its messages need.
pub(super) struct PublicApi {
    pub(super) client: aws_sdk_ecrpublic::Client,
    pub(super) caller_arn: String,
    pub(super) account: String,
    /// The alias the user named; `None` means the caller's default one.
    pub(super) alias: Option<String>,
    pub(super) endpoint: String,
    pub(super) resolved_alias: tokio::sync::OnceCell<String>,
}

impl PublicApi {
    pub(super) fn repository_arn(&self, name: &str) -> String {
        format!("arn:aws:ecr-public::{}:repository/{name}", self.account)
    }

    fn call(&self, operation: &'static str, action: &'static str, name: Option<&str>) -> Call {
        Call {
            operation,
            action,
            subject: match name {
                Some(name) => format!("for public repository '{name}' (ECR Public, {PUBLIC_API_REGION})"),
                None => format!("on ECR Public ({PUBLIC_API_REGION})"),
            },
            resource: name.map_or_else(|| "*".to_string(), |n| self.repository_arn(n)),
            principal: Some(self.caller_arn.clone()),
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
        let registry = output.registries().iter().find(|r| r.registry_id() == self.account);
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
                 public repository); pass --create-repository, or name the registry as --registry {PUBLIC_HOST}/ALIAS",
                call.describe(),
                self.account
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
                self.account
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
            let page = page.map_err(|e| call.error(e))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EXIT_BAD_INPUT, exit_code};

    #[test]
    fn catalog_data_is_checked_against_the_api_limits() {
        let dir = tempfile::tempdir().unwrap();
        let logo = dir.path().join("logo.png");
        std::fs::write(&logo, b"\x89PNG\r\n\x1a\nrest").unwrap();
        let about = dir.path().join("about.md");
        std::fs::write(&about, "# About\n").unwrap();
        let good = CatalogOptions {
            description: Some("A tool".into()),
            about_text: Some("inline loses".into()),
            about_text_file: Some(about.clone()),
            usage_text: Some("docker pull ...".into()),
            architectures: vec!["x86-64".into(), " ARM 64 ".into()],
            operating_systems: vec!["Linux".into()],
            logo_file: Some(logo.clone()),
            ..CatalogOptions::default()
        };
        let data = CatalogData::validate(good).unwrap();
        assert_eq!(data.about_text.as_deref(), Some("# About\n"));
        assert_eq!(data.architectures, ["x86-64", "ARM 64"]);
        assert_eq!(data.logo.as_ref().map(Vec::len), Some(12));
        assert!(!format!("{data:?}").contains("About"), "long texts are not dumped");

        let not_image = dir.path().join("logo.txt");
        std::fs::write(&not_image, "text").unwrap();
        let cases: Vec<(CatalogOptions, &str)> = vec![
            (CatalogOptions { description: Some("d".repeat(1025)), ..Default::default() }, "1025 characters"),
            (CatalogOptions { usage_text: Some("u".repeat(25601)), ..Default::default() }, "usage text"),
            (CatalogOptions { architectures: vec!["a".repeat(51)], ..Default::default() }, "aaaa"),
            (CatalogOptions { operating_systems: vec!["Linux".into(); 51], ..Default::default() }, "51"),
            (CatalogOptions { logo_file: Some(not_image), ..Default::default() }, "logo.txt"),
            (CatalogOptions { logo_file: Some(dir.path().join("missing.png")), ..Default::default() }, "missing.png"),
            (CatalogOptions { about_text_file: Some(dir.path().join("nope.md")), ..Default::default() }, "nope.md"),
        ];
        for (options, needle) in cases {
            let error = CatalogData::validate(options).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT);
            assert!(format!("{error:#}").contains(needle), "{error:#} lacks {needle}");
        }
        assert!(CatalogData::validate(CatalogOptions::default()).unwrap().is_empty());
    }
}
