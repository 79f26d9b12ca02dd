//! `ecr-ship login` and `logout`: the registries to log in to (each region's AWS settings checked up front) and
//! the engine.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::aws::{aws_options, aws_settings};
use super::common::{Reporting, engine, reporting, time_limit};
use super::file::ConfigFile;
use crate::aws::{AwsOptions, AwsSettings};
use crate::bail_input;
use crate::ci::EnvMap;
use crate::cli::{AwsArgs, LoginArgs};
use crate::engine::EngineChoice;
use crate::host::{PUBLIC_HOST, RegistryHost, RegistryTarget, Stack};

#[derive(Debug)]
pub struct LoginSettings {
    pub aws: AwsSettings,
    /// Other registries to log in to as well, each with the plan of its region when that differs from `aws`'s.
    pub extra_registries: Vec<RegistryHost>,
    pub regional_plans: BTreeMap<String, AwsSettings>,
    pub engine: EngineChoice,
    pub reporting: Reporting,
    pub time_limit: Option<Duration>,
    /// `$GITHUB_OUTPUT` in GitHub Actions, for the `registry` output (amazon-ecr-login's).
    pub github_output: Option<std::path::PathBuf>,
}

#[derive(Debug)]
pub struct LogoutSettings {
    pub engine: EngineChoice,
    pub time_limit: Option<Duration>,
}

pub(super) fn resolve(args: &LoginArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<LoginSettings> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    let aws = aws_settings(&args.common, &args.aws, &file, env)?;
    let extra_registries = extra_registries(&args.aws, &file, &aws)?;
    // The plans of the other regions are checked now, before anything is contacted: a registry in another
    // partition than the role, say, is bad input and must not surface only after the first login.
    let mut regional_plans = BTreeMap::new();
    // An ECR Public target's session serves public.ecr.aws only: every private registry then needs its own.
    for host in extra_registries.iter().filter(|h| h.region != aws.region() || aws.public().is_some()) {
        if !regional_plans.contains_key(&host.region) {
            // Same credentials and roles, another region (and no registry: that would pin the first region).
            let options = AwsOptions {
                region: Some(host.region.clone()),
                registry: None,
                public: None,
                ..aws_options(&args.common, &args.aws, &file)?
            };
            let regional = AwsSettings::validate(options, env)
                .map_err(|e| crate::error::bad_input(format!("--registries {}: {e:#}", host.host())))?;
            regional_plans.insert(host.region.clone(), regional);
        }
    }
    Ok(LoginSettings {
        aws,
        extra_registries,
        regional_plans,
        engine: engine(args.engine.as_deref(), &file)?,
        reporting: reporting(&args.common, env),
        time_limit: time_limit(&args.aws, &file),
        github_output: crate::ci::in_github_actions(env)
            .then(|| crate::ci::var(env, "GITHUB_OUTPUT").map(std::path::PathBuf::from))
            .flatten(),
    })
}

pub(super) fn resolve_logout(args: &LoginArgs, cwd: &Path) -> anyhow::Result<LogoutSettings> {
    let file = ConfigFile::load(args.common.config.as_deref(), cwd)?;
    Ok(LogoutSettings { engine: engine(args.engine.as_deref(), &file)?, time_limit: time_limit(&args.aws, &file) })
}

/// Other registries to log in to (`--registries`, else the file's `registries:`), parsed. A bare 12-digit account
/// id, as amazon-ecr-login's `registries:` takes, is that account's registry in the job's region (`job`), in the
/// same FIPS and dual-stack form as the job's own registry host when one is given.
pub(super) fn extra_registries(
    aws: &AwsArgs,
    file: &ConfigFile,
    job: &AwsSettings,
) -> anyhow::Result<Vec<RegistryHost>> {
    let hosts =
        if aws.registries.is_empty() { file.registries.clone().unwrap_or_default() } else { aws.registries.clone() };
    let parse = |host: &str| match RegistryTarget::parse(host) {
        Err(_) if !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit()) => {
            let (fips, stack) = job.registry().map_or((false, Stack::Ipv4), |own| (own.fips, own.stack));
            RegistryHost::for_account(host, job.region(), fips, stack)
                .map_err(|e| crate::error::bad_input(format!("--registries '{host}': {e:#}")))
        }
        parsed => match parsed? {
            RegistryTarget::Private(host) => Ok(host),
            RegistryTarget::Public(_) => bail_input!(
                "--registries '{host}': the other registries are private ECR hosts; log in to ECR Public with its own \
             `ecr-ship login --registry {PUBLIC_HOST}`"
            ),
        },
    };
    hosts.iter().map(|h| h.trim()).filter(|h| !h.is_empty()).map(parse).collect()
}
