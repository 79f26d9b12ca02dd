//! The repository settings a push may create or update (`--create-repository`, mutability, scanning,
//! encryption, policies, catalog data), checked against the registry they are for.

use std::path::Path;

use super::file::ConfigFile;
use crate::aws::{AwsSettings, CatalogOptions, RepositoryOptions, RepositorySettings};
use crate::bail_input;
use crate::cli::RepositoryArgs;

/// Repository settings from flags and the file's `repository-settings:`, checked; with the create and update
/// switches.
pub(super) fn repository_settings(
    args: &RepositoryArgs,
    file: &ConfigFile,
    cwd: &Path,
) -> anyhow::Result<(RepositorySettings, bool, bool)> {
    let section = file.repository_settings.as_ref();
    let inline = |value: Option<&serde_json::Value>| -> Option<String> {
        value.map(|v| match v {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    };
    let exclusions = if args.mutability_exclusion.is_empty() {
        section.and_then(|s| s.mutability_exclusions.clone()).unwrap_or_default()
    } else {
        args.mutability_exclusion.clone()
    };
    let resource_tags = if args.resource_tag.is_empty() {
        section
            .and_then(|s| s.resource_tags.clone())
            .map(|tags| tags.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
            .unwrap_or_default()
    } else {
        args.resource_tag.clone()
    };
    let options = RepositoryOptions {
        tag_mutability: args.tag_mutability.clone().or_else(|| section.and_then(|s| s.tag_mutability.clone())),
        immutable_tags: false,
        mutability_exclusions: exclusions,
        scan_on_push: args.scan_on_push.or(section.and_then(|s| s.scan_on_push)),
        encryption: args.encryption.clone().or_else(|| section.and_then(|s| s.encryption.clone())),
        kms_key: args.kms_key.clone().or_else(|| section.and_then(|s| s.kms_key.clone())),
        lifecycle_policy_file: args
            .lifecycle_policy
            .clone()
            .or_else(|| section.and_then(|s| s.lifecycle_policy_file.clone()))
            .map(|p| cwd.join(p)),
        lifecycle_policy_inline: inline(section.and_then(|s| s.lifecycle_policy.as_ref())),
        repository_policy_file: args
            .repository_policy
            .clone()
            .or_else(|| section.and_then(|s| s.repository_policy_file.clone()))
            .map(|p| cwd.join(p)),
        repository_policy_inline: inline(section.and_then(|s| s.repository_policy.as_ref())),
        tags: resource_tags,
        catalog: CatalogOptions {
            description: args.description.clone().or_else(|| section.and_then(|s| s.description.clone())),
            about_text: section.and_then(|s| s.about_text.clone()),
            about_text_file: args
                .about_text
                .clone()
                .or_else(|| section.and_then(|s| s.about_text_file.clone()))
                .map(|p| cwd.join(p)),
            usage_text: section.and_then(|s| s.usage_text.clone()),
            usage_text_file: args
                .usage_text
                .clone()
                .or_else(|| section.and_then(|s| s.usage_text_file.clone()))
                .map(|p| cwd.join(p)),
            architectures: if args.architecture.is_empty() {
                section.and_then(|s| s.architectures.clone()).unwrap_or_default()
            } else {
                args.architecture.clone()
            },
            operating_systems: if args.operating_system.is_empty() {
                section.and_then(|s| s.operating_systems.clone()).unwrap_or_default()
            } else {
                args.operating_system.clone()
            },
            logo_file: args.logo.clone().or_else(|| section.and_then(|s| s.logo_file.clone())).map(|p| cwd.join(p)),
        },
    };
    let settings = RepositorySettings::validate(options)?;
    let create = args.create_repository.or(section.and_then(|s| s.create)).unwrap_or(false);
    let update = args.update_repository_settings.or(section.and_then(|s| s.update)).unwrap_or(false);
    Ok((settings, create, update))
}

/// Each registry kind has its own repository settings: ECR Public repositories have catalog data and tags, and
/// none of private ECR's (mutability, scanning, encryption, policies); a setting that does not exist for the target
/// would otherwise be dropped without a word.
pub(super) fn settings_fit_registry(settings: &RepositorySettings, aws: &AwsSettings) -> anyhow::Result<()> {
    if let Some(public) = aws.public() {
        let private_only = [
            ("--tag-mutability", settings.tag_mutability.is_some() || !settings.exclusion_filters.is_empty()),
            ("--scan-on-push", settings.scan_on_push.is_some()),
            ("--encryption/--kms-key", settings.encryption.is_some()),
            ("--lifecycle-policy", settings.lifecycle_policy.is_some()),
            ("--repository-policy", settings.repository_policy.is_some()),
        ];
        if let Some((flag, _)) = private_only.iter().find(|(_, given)| *given) {
            bail_input!(
                "{flag} (or its repository-settings: key) is a private ECR repository setting, and registry \
                 '{public}' is ECR Public, whose repositories have catalog data instead (--description, --about-text, \
                 --usage-text, --architecture, --operating-system, --logo)"
            );
        }
    } else if !settings.catalog.is_empty() {
        bail_input!(
            "catalog data (--description, --about-text, --usage-text, --architecture, --operating-system, --logo) is \
             for ECR Public repositories: pass --registry public.ecr.aws/ALIAS, or drop it"
        );
    }
    Ok(())
}

/// A KMS key ARN must be in the repository's partition and region (ECR uses only keys of its own region); ECR would
/// refuse it only at CreateRepository, after the push had started.
pub(super) fn kms_key_in_partition(settings: &RepositorySettings, aws: &AwsSettings) -> anyhow::Result<()> {
    let Some(crate::aws::Encryption::Kms { key: Some(key) }) = &settings.encryption else { return Ok(()) };
    let Some(rest) = key.strip_prefix("arn:") else { return Ok(()) };
    let fields: Vec<&str> = rest.splitn(4, ':').collect();
    if let [partition, _, region, _] = fields.as_slice()
        && (*partition != aws.partition().arn_name() || *region != aws.region())
    {
        bail_input!(
            "KMS key '{key}' is in {partition} {region}, but the repository is in {} {}: use a key of the \
             repository's region",
            aws.partition().arn_name(),
            aws.region()
        );
    }
    Ok(())
}
