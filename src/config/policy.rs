//! `ecr-ship policy`: the repository, the registry named offline, the GitHub subjects the trust policy admits, and
//! with `--lifecycle` the lifecycle policy made from the tag rules (checked against ECR's rules here, offline).

use std::path::Path;

use super::aws::{offline_region, offline_registry};
use super::common::file_and_repository;
use super::file::ConfigFile;
use crate::ci::EnvMap;
use crate::cli::PolicyArgs;
use crate::host::{Partition, PublicRegistry, RegistryTarget};
use crate::tags::lifecycle::{self, LifecycleOptions, LifecyclePolicy};
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
    /// `--prune`: the push policy also grants what `ecr-ship prune` calls.
    pub prune: bool,
    /// The lifecycle policy made from the tag rules (`--lifecycle`), already checked against ECR's rules.
    pub lifecycle: Option<LifecyclePolicy>,
    /// Where to write the lifecycle policy alone (absolute, checked).
    pub lifecycle_policy_file: Option<std::path::PathBuf>,
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
    let lifecycle = lifecycle_settings(args, &file, env, cwd, public.is_some())?;
    for (flag, file) in [
        ("--trust-policy-file", &args.trust_policy_file),
        ("--push-policy-file", &args.push_policy_file),
        ("--lifecycle-policy-file", &args.lifecycle_policy_file),
    ] {
        if let Some(file) = file {
            crate::outputs::check_destination(cwd, file, flag, false)?;
        }
    }
    if args.prune == Some(true) && public.is_some() {
        bail_input!("--prune is for private ECR repositories: ecr-ship prune does not work on ECR Public");
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
        prune: args.prune.unwrap_or(false),
        lifecycle,
        lifecycle_policy_file: args.lifecycle_policy_file.as_ref().map(|file| cwd.join(file)),
    })
}

/// The longest expiry a lifecycle flag takes, in days (ten years).
const MAX_DAYS: u32 = 3650;

/// `--lifecycle`: the policy from the same tag rules push resolves (flags, ECR_SHIP_*, the config file's `tags:`),
/// with its flags checked; without it, a lifecycle flag alone is a mistake worth saying.
fn lifecycle_settings(
    args: &PolicyArgs,
    file: &ConfigFile,
    env: &EnvMap,
    cwd: &Path,
    public: bool,
) -> anyhow::Result<Option<LifecyclePolicy>> {
    if !args.lifecycle.unwrap_or(false) {
        let given = [
            ("--pr-days", args.pr_days.is_some()),
            ("--keep-commits", args.keep_commits.is_some()),
            ("--untagged-days", args.untagged_days.is_some()),
            ("--keep-tag", !args.keep_tags.is_empty()),
            ("--lifecycle-policy-file", args.lifecycle_policy_file.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, given)| *given) {
            bail_input!("{flag} shapes the lifecycle policy, which only --lifecycle prints: add --lifecycle");
        }
        return Ok(None);
    }
    if public {
        bail_input!(
            "ECR Public repositories have no lifecycle policies (PutLifecyclePolicy is private ECR's): --lifecycle \
             needs a private registry"
        );
    }
    let days = |flag: &str, value: Option<u32>, default: u32| -> anyhow::Result<u32> {
        let days = value.unwrap_or(default);
        if !(1..=MAX_DAYS).contains(&days) {
            bail_input!("invalid {flag} {days}: expected 1 to {MAX_DAYS} days");
        }
        Ok(days)
    };
    let keep_commits = args.keep_commits.unwrap_or(lifecycle::DEFAULT_KEEP_COMMITS);
    if !(1..lifecycle::KEEP_COUNT).contains(&keep_commits) {
        bail_input!("invalid --keep-commits {keep_commits}: expected 1 to {}", lifecycle::KEEP_COUNT - 1);
    }
    let options = LifecycleOptions {
        pr_days: days("--pr-days", args.pr_days, lifecycle::DEFAULT_PR_DAYS)?,
        keep_commits,
        untagged_days: match args.untagged_days {
            Some(0) => None,
            given => Some(days("--untagged-days", given, lifecycle::DEFAULT_UNTAGGED_DAYS)?),
        },
        keep_tags: args.keep_tags.iter().map(|tag| tag.trim().to_string()).collect(),
    };
    let tags = super::tags::tag_settings(&args.tags, file, env, cwd)?;
    let policy = lifecycle::lifecycle_policy(&tags.context, &tags.rules, tags.now, &options)?;
    crate::aws::lifecycle::validate(&policy.document, "the lifecycle policy made from the tag rules")?;
    Ok(Some(policy))
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
