//! `ecr-ship policy`: the repository, the registry named offline, and the GitHub subjects the trust policy admits.

use std::path::Path;

use super::aws::{offline_region, offline_registry};
use super::common::file_and_repository;
use crate::ci::EnvMap;
use crate::cli::PolicyArgs;
use crate::host::{Partition, PublicRegistry, RegistryTarget};
use crate::{bail_input, ci, names};

#[derive(Debug)]
pub struct PolicySettings {
    pub repository: String,
    pub partition: Partition,
    /// The registry's account, or `*` when unknown.
    pub account: String,
    /// The registry's region, or `*` when unknown.
    pub region: String,
    /// The ECR Public registry, when the policy is for one.
    pub public: Option<PublicRegistry>,
    /// The repository and which of its jobs the GitHub OIDC trust policy admits.
    pub github: Option<(String, crate::aws::GithubSubject)>,
    pub create_repository: bool,
    /// Running in GitHub Actions: warnings become annotations.
    pub github_warnings: bool,
}

pub(super) fn resolve(args: &PolicyArgs, env: &EnvMap, cwd: &Path) -> anyhow::Result<PolicySettings> {
    let (file, repository) = file_and_repository("policy", &args.common, cwd)?;
    let target = offline_registry(&args.common, args.account_id.as_deref(), &file, env)?;
    let (account, region, public) = match target {
        Some(RegistryTarget::Private(host)) => (host.account.clone(), host.region.clone(), None),
        Some(RegistryTarget::Public(public)) => {
            names::validate_public_repository(&repository)?;
            let account = args.account_id.clone().or_else(|| file.account_id.clone());
            if let Some(account) = &account {
                crate::host::validate_account(account)?;
            }
            (account.unwrap_or_else(|| "*".to_string()), crate::host::PUBLIC_API_REGION.to_string(), Some(public))
        }
        None => ("*".to_string(), offline_region(&args.common, &file, env).unwrap_or_else(|| "*".to_string()), None),
    };
    let github = github_subject(args)?;
    Ok(PolicySettings {
        repository,
        partition: Partition::of_region(&region),
        account,
        region,
        public,
        github,
        create_repository: args.create_repository.unwrap_or(false),
        github_warnings: ci::in_github_actions(env),
    })
}

/// The trust policy's subject: narrow by default, the whole repository only when asked for.
pub(super) fn github_subject(args: &PolicyArgs) -> anyhow::Result<Option<(String, crate::aws::GithubSubject)>> {
    use crate::aws::GithubSubject;
    let subject = match (&args.github_ref, &args.github_environment, args.github_any_ref.unwrap_or(false)) {
        (Some(reference), None, false) => Some(GithubSubject::Ref(reference.clone())),
        (None, Some(name), false) => Some(GithubSubject::Environment(name.clone())),
        (None, None, true) => Some(GithubSubject::AnyRef),
        (None, None, false) => None,
        _ => bail_input!("give one of --github-ref, --github-environment and --github-any-ref, not several"),
    };
    match (&args.github_repo, subject) {
        (None, None) => Ok(None),
        (None, Some(_)) => {
            bail_input!("--github-ref, --github-environment and --github-any-ref need --github-repo OWNER/NAME")
        }
        (Some(repo), None) => bail_input!(
            "--github-repo {repo} needs the jobs it admits: --github-ref refs/heads/main (one branch or tag), \
             --github-environment prod (a deployment environment), or --github-any-ref (every branch, tag and pull \
             request of the repository)"
        ),
        (Some(repo), Some(subject)) => {
            crate::aws::policy::validate_github_repo(repo)?;
            subject.validate()?;
            Ok(Some((repo.clone(), subject)))
        }
    }
}
