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
    pub github: Option<(String, Vec<crate::aws::GithubSubject>)>,
    /// Where the trust policy admits more than the workflow runs (from --from-workflow), one sentence each.
    pub github_notes: Vec<String>,
    /// Files to write the trust policy and the push policy to, each alone (absolute, checked).
    pub trust_policy_file: Option<std::path::PathBuf>,
    pub push_policy_file: Option<std::path::PathBuf>,
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
    let (github, github_notes, workflow_creates) = github_subjects(args, cwd)?;
    if let (Some(file), None) = (&args.trust_policy_file, &github) {
        bail_input!(
            "--trust-policy-file {} needs the trust policy's subjects: --github-repo OWNER/NAME with --github-ref, \
             --github-environment, --github-pull-requests or --from-workflow",
            file.display()
        );
    }
    for (flag, file) in
        [("--trust-policy-file", &args.trust_policy_file), ("--push-policy-file", &args.push_policy_file)]
    {
        if let Some(file) = file {
            crate::outputs::check_destination(cwd, file, flag, false)?;
        }
    }
    Ok(PolicySettings {
        repository,
        partition: Partition::of_region(&region),
        account,
        region,
        public,
        github,
        github_notes,
        trust_policy_file: args.trust_policy_file.as_ref().map(|file| cwd.join(file)),
        push_policy_file: args.push_policy_file.as_ref().map(|file| cwd.join(file)),
        create_repository: args.create_repository.unwrap_or(workflow_creates),
        github_warnings: ci::in_github_actions(env),
    })
}

/// The trust policy's subjects, narrow by default (the whole repository only when asked for), with the notes of a
/// workflow read and whether its ecr-ship steps create the repository.
type GithubSubjects = (Option<(String, Vec<crate::aws::GithubSubject>)>, Vec<String>, bool);

pub(super) fn github_subjects(args: &PolicyArgs, cwd: &Path) -> anyhow::Result<GithubSubjects> {
    use crate::aws::GithubSubject;
    let mut subjects: Vec<GithubSubject> = args.github_ref.iter().map(|r| GithubSubject::Ref(r.clone())).collect();
    subjects.extend(args.github_environment.iter().map(|name| GithubSubject::Environment(name.clone())));
    if args.github_pull_requests.unwrap_or(false) {
        subjects.push(GithubSubject::PullRequest);
    }
    let (mut notes, mut creates) = (Vec::new(), false);
    if let Some(file) = &args.from_workflow {
        let default_branch = args.github_default_branch.as_deref().unwrap_or("main");
        GithubSubject::Ref(format!("refs/heads/{default_branch}")).validate().map_err(|_| {
            crate::error::bad_input(format!(
                "invalid --github-default-branch '{default_branch}': expected a branch name (letters, digits, '/', \
                 '.', '_', '-')"
            ))
        })?;
        let workflow = super::workflow::read(&cwd.join(file), &file.display().to_string(), default_branch)?;
        subjects.extend(workflow.subjects);
        notes = workflow.warnings;
        creates = workflow.create_repository;
    }
    let any = args.github_any_ref.unwrap_or(false);
    if any && !subjects.is_empty() {
        bail_input!(
            "--github-any-ref admits every job already; give it alone, or --github-ref, --github-environment, \
             --github-pull-requests and --from-workflow without it"
        );
    }
    if any {
        subjects.push(GithubSubject::AnyRef);
    }
    match (&args.github_repo, subjects.is_empty()) {
        (None, true) => Ok((None, notes, creates)),
        (None, false) => bail_input!(
            "--github-ref, --github-environment, --github-pull-requests, --from-workflow and --github-any-ref need \
             --github-repo OWNER/NAME"
        ),
        (Some(repo), true) => bail_input!(
            "--github-repo {repo} needs the jobs it admits: --github-ref refs/heads/main (a branch or tag; \
             repeatable), --github-pull-requests, --github-environment prod (a deployment environment), \
             --from-workflow .github/workflows/FILE.yml (exactly what that workflow runs), or --github-any-ref \
             (every branch, tag and pull request of the repository)"
        ),
        (Some(repo), false) => {
            crate::aws::policy::validate_github_repo(repo)?;
            for subject in &subjects {
                subject.validate()?;
            }
            subjects.sort();
            subjects.dedup();
            Ok((Some((repo.clone(), subjects)), notes, creates))
        }
    }
}
