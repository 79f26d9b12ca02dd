//! The AWS settings from flags, environment and file (validated offline into an [`AwsSettings`]), and the region
//! and registry for the commands that never contact AWS.

use std::time::Duration;

use super::common::time_limit;
use super::file::{ConfigFile, OneOrMany};
use crate::aws::{AwsOptions, AwsSettings};
use crate::ci::EnvMap;
use crate::cli::{AwsArgs, CommonArgs};
use crate::host::{RegistryHost, RegistryTarget, Stack};
use crate::{bail_input, ci};

/// The AWS plan from flags, environment and config file (no network).
pub(super) fn aws_settings(
    common: &CommonArgs,
    aws: &AwsArgs,
    file: &ConfigFile,
    env: &EnvMap,
) -> anyhow::Result<AwsSettings> {
    AwsSettings::validate(aws_options(common, aws, file)?, env)
}

/// The AWS options from flags and config file, before validation.
pub(super) fn aws_options(common: &CommonArgs, aws: &AwsArgs, file: &ConfigFile) -> anyhow::Result<AwsOptions> {
    let target =
        common.registry.clone().or_else(|| file.registry.clone()).map(|h| RegistryTarget::parse(&h)).transpose()?;
    let (registry, public) = match target {
        Some(RegistryTarget::Private(host)) => (Some(host), None),
        Some(RegistryTarget::Public(public)) => (None, Some(public)),
        None => (None, None),
    };
    let role_arns = if aws.role_arn.is_empty() {
        file.role_arn.clone().map(OneOrMany::into_vec).unwrap_or_default()
    } else {
        aws.role_arn.clone()
    };
    Ok(AwsOptions {
        region: common.region.clone().or_else(|| file.region.clone()),
        registry,
        public,
        role_arns: role_arns.into_iter().map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect(),
        external_id: aws.external_id.clone().or_else(|| file.external_id.clone()),
        session_name: aws.role_session_name.clone().or_else(|| file.role_session_name.clone()),
        role_duration: aws.role_duration.or(file.role_duration).map(Duration::from_secs),
        timeout: time_limit(aws, file),
    })
}

/// The region for commands that never contact AWS: `--region` (or the file's), then AWS_REGION, then
/// AWS_DEFAULT_REGION.
pub(super) fn offline_region(common: &CommonArgs, file: &ConfigFile, env: &EnvMap) -> Option<String> {
    common
        .region
        .clone()
        .or_else(|| file.region.clone())
        .or_else(|| ci::var(env, "AWS_REGION").or(ci::var(env, "AWS_DEFAULT_REGION")).map(String::from))
}

/// The registry for commands that never contact AWS (`tags`, `policy`): `--registry`, or an account id and the
/// region.
pub(super) fn offline_registry(
    common: &CommonArgs,
    account_flag: Option<&str>,
    file: &ConfigFile,
    env: &EnvMap,
) -> anyhow::Result<Option<RegistryTarget>> {
    let registry = common.registry.as_deref().or(file.registry.as_deref());
    let account = account_flag.or(file.account_id.as_deref());
    let region = offline_region(common, file, env);
    match (registry, account) {
        (Some(host), _) => match RegistryTarget::parse(host)? {
            RegistryTarget::Private(parsed) => {
                if let Some(region) = region.filter(|r| *r != parsed.region) {
                    bail_input!("--registry '{host}' is in region {} but --region is '{region}'", parsed.region);
                }
                Ok(Some(RegistryTarget::Private(parsed)))
            }
            public => Ok(Some(public)),
        },
        (None, Some(account)) => match region {
            Some(region) => {
                Ok(Some(RegistryTarget::Private(RegistryHost::for_account(account, &region, false, Stack::Ipv4)?)))
            }
            None => {
                bail_input!("--account-id '{account}' needs a region (--region or AWS_REGION) to name the registry")
            }
        },
        (None, None) => Ok(None),
    }
}
