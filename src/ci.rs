//! CI context detection: which CI system runs us and what it says about branch, commit, git tag, pull request and
//! run number.
//!
//! Detection is a pure function of an environment map plus a [`Workspace`] for the two things that are not in the
//! environment: GitHub's event payload file and the plain-git fallback. Nothing here reads the process environment,
//! so every CI system is tested against fixtures of real environment dumps. The order follows
//! `ci-conventions.md` §1: GitHub Actions first (CodeBuild can host Actions runners), CodeBuild before Jenkins (the
//! CodeBuild Jenkins plugin runs inside CodeBuild), then semantic-release/env-ci's order (the reference for what
//! each system's variables mean), plain git last.
//!
//! Where ecr-ship and env-ci differ, ecr-ship's conventions hold: on a pull request `branch` is the source (head)
//! branch and `sha` the head commit (env-ci's `branch` is the target, here `base_ref`); a tag build reports the git
//! tag and no branch; a commit id is the full 40 hex.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use serde::Serialize;

use crate::bail_input;

/// Environment variables as seen by the process, injected so detection stays a pure function.
pub type EnvMap = BTreeMap<String, String>;

/// The process environment as an [`EnvMap`], read once in `main`'s call path.
pub fn process_env() -> EnvMap {
    std::env::vars_os().filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?))).collect()
}

/// A variable's value, treating empty (and whitespace-only) as unset, as every CI system's docs do.
pub fn var<'a>(env: &'a EnvMap, key: &str) -> Option<&'a str> {
    env.get(key).map(|value| value.trim()).filter(|value| !value.is_empty())
}

/// True when running in GitHub Actions, whose runners set `GITHUB_ACTIONS=true`.
pub fn in_github_actions(env: &EnvMap) -> bool {
    var(env, "GITHUB_ACTIONS") == Some("true")
}

/// What detection may read besides the environment.
pub trait Workspace {
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
    /// Output of `git <args>` in the workspace, trimmed, or `None` when git fails or is absent.
    fn git(&self, args: &[&str]) -> Option<String>;
}

/// The real workspace: files on disk and the `git` command run in `dir`.
pub struct LocalWorkspace {
    pub dir: PathBuf,
}

impl Workspace for LocalWorkspace {
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(self.dir.join(path))
    }

    fn git(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("git").arg("-C").arg(&self.dir).args(args).output().ok()?;
        let text = String::from_utf8(output.stdout).ok()?;
        (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CiSystem {
    GithubActions,
    Codebuild,
    Gitlab,
    Jenkins,
    Buildkite,
    Circleci,
    Bitbucket,
    AzurePipelines,
    Teamcity,
    Drone,
    Woodpecker,
    Semaphore,
    Travis,
    Bamboo,
    Codefresh,
    Appveyor,
    Bitrise,
    Buddy,
    Cirrus,
    Codeship,
    Screwdriver,
    Vela,
    Git,
    Unknown,
}

impl fmt::Display for CiSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CiSystem::GithubActions => "GitHub Actions",
            CiSystem::Codebuild => "AWS CodeBuild",
            CiSystem::Gitlab => "GitLab CI",
            CiSystem::Jenkins => "Jenkins",
            CiSystem::Buildkite => "Buildkite",
            CiSystem::Circleci => "CircleCI",
            CiSystem::Bitbucket => "Bitbucket Pipelines",
            CiSystem::AzurePipelines => "Azure Pipelines",
            CiSystem::Teamcity => "TeamCity",
            CiSystem::Drone => "Drone",
            CiSystem::Woodpecker => "Woodpecker CI",
            CiSystem::Semaphore => "Semaphore",
            CiSystem::Travis => "Travis CI",
            CiSystem::Bamboo => "Bamboo",
            CiSystem::Codefresh => "Codefresh",
            CiSystem::Appveyor => "AppVeyor",
            CiSystem::Bitrise => "Bitrise",
            CiSystem::Buddy => "Buddy",
            CiSystem::Cirrus => "Cirrus CI",
            CiSystem::Codeship => "Codeship",
            CiSystem::Screwdriver => "Screwdriver",
            CiSystem::Vela => "Vela",
            CiSystem::Git => "git",
            CiSystem::Unknown => "no CI and no git",
        })
    }
}

/// What the build is about. Every field is optional: a CodePipeline-started build has no branch, a local run may
/// have no git at all. `sha`, when present, is 40 (or 64) lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CiContext {
    pub system: CiSystem,
    pub branch: Option<String>,
    pub sha: Option<String>,
    pub git_tag: Option<String>,
    pub pr: Option<u64>,
    pub run: Option<String>,
    pub default_branch: Option<String>,
    pub event: Option<String>,
    /// The branch a pull request merges into, or the branch a pushed tag was made on (GitHub's `base_ref`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_ref: Option<String>,
    /// The commit's date (RFC 3339) when the CI system says it, for metadata-action's `{{commit_date}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_date: Option<String>,
    /// What the CI system says of the repository, for the OCI labels `title`, `description`, `url`, `source` and
    /// `licenses`.
    #[serde(skip)]
    pub repository: RepositoryFacts,
    /// Which facts came from flags (`--branch`, `--sha`, ...) rather than detection, in the order of [`Overrides`].
    #[serde(skip)]
    pub given: Vec<&'static str>,
}

/// The repository as the CI system describes it (GitHub: the event payload's `repository` object, the same
/// object metadata-action reads from GitHub's API). Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositoryFacts {
    pub name: Option<String>,
    pub description: Option<String>,
    /// The repository's web page, e.g. `https://github.com/octo/app`.
    pub url: Option<String>,
    /// The licence's SPDX id, e.g. `MIT`.
    pub license: Option<String>,
}

impl CiContext {
    fn new(system: CiSystem) -> CiContext {
        CiContext {
            system,
            branch: None,
            sha: None,
            git_tag: None,
            pr: None,
            run: None,
            default_branch: None,
            event: None,
            base_ref: None,
            commit_date: None,
            repository: RepositoryFacts::default(),
            given: Vec::new(),
        }
    }

    /// Where the build's facts came from, for the log's context line: "GitHub Actions build", "git build",
    /// "git build (branch and commit given)". Facts given by flags count as a git build even outside a checkout:
    /// they are what a git build would have detected.
    pub fn origin(&self) -> String {
        let given = match self.given.as_slice() {
            [] => String::new(),
            [one] => format!(" ({one} given)"),
            [init @ .., last] => format!(" ({} and {last} given)", init.join(", ")),
        };
        match self.system {
            CiSystem::Unknown if self.given.is_empty() => {
                "build outside CI and git (no --branch or --sha given)".into()
            }
            CiSystem::Unknown => format!("git build{given}"),
            system => format!("{system} build{given}"),
        }
    }
}

/// Explicit values from `--branch/--sha/--git-tag/--pr`; they win over detection.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub branch: Option<String>,
    pub sha: Option<String>,
    pub git_tag: Option<String>,
    pub pr: Option<String>,
    pub default_branch: Option<String>,
}

/// Detects the CI context, applies the overrides, and checks the commit sha.
pub fn detect(env: &EnvMap, workspace: &dyn Workspace, overrides: &Overrides) -> anyhow::Result<CiContext> {
    let is = |key: &str| var(env, key).is_some();
    let is_true = |key: &str| var(env, key).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut context = if in_github_actions(env) {
        github(env, workspace)?
    } else if is("CODEBUILD_BUILD_ID") {
        codebuild(env)
    } else if is("APPVEYOR") {
        appveyor(env)
    } else if is_true("TF_BUILD") || is("BUILD_BUILDURI") {
        azure(env)
    } else if is("bamboo_agentId") {
        bamboo(env)
    } else if is("BITBUCKET_BUILD_NUMBER") {
        bitbucket(env)
    } else if is("BITRISE_IO") {
        bitrise(env)
    } else if is("BUDDY_WORKSPACE_ID") {
        buddy(env)
    } else if is_true("BUILDKITE") {
        buildkite(env)
    } else if is_true("CIRCLECI") {
        circleci(env)
    } else if is("CIRRUS_CI") {
        cirrus(env)
    } else if is("CF_BUILD_ID") {
        codefresh(env)
    } else if var(env, "CI_NAME") == Some("codeship") {
        codeship(env)
    } else if is("DRONE") {
        drone(env)
    } else if is("GITLAB_CI") {
        gitlab(env)
    } else if is("JENKINS_URL") {
        jenkins(env)
    } else if is("SCREWDRIVER") {
        screwdriver(env)
    } else if is("SEMAPHORE") {
        semaphore(env)
    } else if is("TEAMCITY_VERSION") {
        teamcity(env)
    } else if is("TRAVIS") {
        travis(env)
    } else if is("VELA") {
        vela(env)
    } else if var(env, "CI") == Some("woodpecker") {
        woodpecker(env)
    } else {
        CiContext::new(CiSystem::Unknown)
    };
    // Overrides first, so git is asked only for what neither the CI system nor the user said.
    apply_overrides(&mut context, overrides)?;
    fill_from_git(&mut context, workspace);
    if let Some(sha) = &context.sha {
        context.sha = Some(normalize_sha(sha, "the detected commit")?);
    }
    Ok(context)
}

/// Checks a commit id: 40 hex characters (SHA-1) or 64 (SHA-256 repositories); returns it in lower case.
pub fn normalize_sha(sha: &str, source: &str) -> anyhow::Result<String> {
    let sha = sha.trim();
    if !is_hex_sha(sha) {
        bail_input!("invalid commit sha '{sha}' from {source}: expected the full 40 hexadecimal characters");
    }
    Ok(sha.to_ascii_lowercase())
}

fn apply_overrides(context: &mut CiContext, overrides: &Overrides) -> anyhow::Result<()> {
    if let Some(branch) = &overrides.branch {
        context.branch = Some(strip_ref(branch).to_string());
        context.given.push("branch");
    }
    if let Some(sha) = &overrides.sha {
        context.sha = Some(normalize_sha(sha, "--sha")?);
        context.given.push("commit");
    }
    if let Some(tag) = &overrides.git_tag {
        context.git_tag = Some(tag.strip_prefix("refs/tags/").unwrap_or(tag).to_string());
        context.given.push("git tag");
    }
    if let Some(pr) = &overrides.pr {
        context.given.push("pull request");
        context.pr = Some(parse_pr(pr).ok_or_else(|| {
            crate::error::bad_input(format!(
                "invalid pull request number '{pr}' from --pr: expected a positive integer"
            ))
        })?);
    }
    if let Some(default_branch) = &overrides.default_branch {
        context.default_branch = Some(default_branch.clone());
        context.given.push("default branch");
    }
    Ok(())
}

/// Fills what the CI variables left open from plain git: the commit always, the branch only when HEAD is on one
/// (CodeBuild, Jenkins and GitHub PR checkouts are detached; guessing from remote branches is ambiguous).
fn fill_from_git(context: &mut CiContext, workspace: &dyn Workspace) {
    let needs_sha = context.sha.is_none();
    let needs_ref = context.branch.is_none() && context.git_tag.is_none() && context.pr.is_none();
    if !needs_sha && !needs_ref {
        return;
    }
    let Some(head) = workspace.git(&["rev-parse", "HEAD"]) else { return };
    if context.system == CiSystem::Unknown {
        context.system = CiSystem::Git;
    }
    if needs_sha {
        context.sha = Some(head);
    }
    if needs_ref {
        context.branch = workspace.git(&["symbolic-ref", "-q", "--short", "HEAD"]);
        if context.branch.is_none() {
            context.git_tag = workspace.git(&["describe", "--exact-match", "--tags", "HEAD"]);
        }
    }
}

fn strip_ref(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
}

fn parse_pr(text: &str) -> Option<u64> {
    text.trim().parse().ok().filter(|n| *n > 0)
}

/// A pull request number from JSON, a number or a numeric string (`"10"`, as env-ci's GitHub payloads have it).
fn json_pr(value: &serde_json::Value) -> Option<u64> {
    value.as_u64().filter(|n| *n > 0).or_else(|| value.as_str().and_then(parse_pr))
}

/// The last run of digits in a pull request's URL or name (`https://github.com/o/r/pull/10`, `uri/pr/10`).
fn pr_from_url(url: &str) -> Option<u64> {
    let digits = url.rsplit(|c: char| !c.is_ascii_digit()).find(|part| !part.is_empty())?;
    parse_pr(digits)
}

/// A branch as CI systems spell it, `refs/heads/x` or plain `x`; `None` for a tag or pull request ref.
fn branch_from_ref(reference: &str) -> Option<&str> {
    if reference.starts_with("refs/") && !reference.starts_with("refs/heads/") {
        return None;
    }
    Some(strip_ref(reference))
}

/// A repository's web page and name from a URL the CI system gives: `https://host/owner/repo`, with a trailing
/// `.git` and any credentials dropped. Clone URLs over SSH are not web pages and give nothing.
fn repository_from_url(url: Option<&str>, name: Option<&str>) -> RepositoryFacts {
    let url = url.filter(|u| u.starts_with("https://") || u.starts_with("http://")).map(|u| {
        let u = u.split('#').next().unwrap_or(u);
        let (scheme, rest) = u.split_once("://").unwrap_or(("https", u));
        let rest = rest.split_once('@').filter(|(user, _)| !user.contains('/')).map_or(rest, |(_, host)| host);
        let rest = rest.trim_end_matches('/');
        format!("{scheme}://{}", rest.strip_suffix(".git").unwrap_or(rest))
    });
    let name =
        name.map(str::to_string).or_else(|| url.as_deref().and_then(|u| u.rsplit('/').next()).map(str::to_string));
    RepositoryFacts { name, url, ..RepositoryFacts::default() }
}

/// `refs/pull/<n>/merge` (GitHub, Azure) or `refs/pull/<n>/head` to the number.
fn pr_from_ref(reference: &str) -> Option<u64> {
    let rest = reference.strip_prefix("refs/pull/")?;
    parse_pr(rest.split('/').next()?)
}

/// A full commit id in either case (SHA-1 or SHA-256 repositories); [`normalize_sha`] lower-cases it.
fn is_hex_sha(value: &str) -> bool {
    (value.len() == 40 || value.len() == 64) && crate::digest::is_hex(value)
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_string)
}

/// The first of `keys` that is set.
fn first<'a>(env: &'a EnvMap, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|key| var(env, key))
}

/// A pull request number from a variable that says `false` when the build is not of one (Travis, Bitrise).
fn pr_unless_false(env: &EnvMap, key: &str) -> Option<u64> {
    var(env, key).filter(|v| *v != "false").and_then(parse_pr)
}

/// The branch the ecr-ship way: a pull request's source branch (its target becomes `base_ref`), else the branch
/// unless the build is of a tag. A PR without a source variable gets no branch: most systems' branch variable is
/// the target there.
fn set_branch(context: &mut CiContext, branch: Option<&str>, source: Option<&str>, target: Option<&str>) {
    if context.pr.is_some() {
        context.branch = source.map(|b| strip_ref(b).to_string());
        context.base_ref = target.map(|b| strip_ref(b).to_string());
    } else if context.git_tag.is_none() {
        context.branch = branch.and_then(branch_from_ref).map(str::to_string);
    }
}

fn github(env: &EnvMap, workspace: &dyn Workspace) -> anyhow::Result<CiContext> {
    let mut context = CiContext::new(CiSystem::GithubActions);
    let event_name = var(env, "GITHUB_EVENT_NAME").unwrap_or("");
    context.event = owned(var(env, "GITHUB_EVENT_NAME"));
    context.sha = owned(var(env, "GITHUB_SHA"));
    context.run = owned(var(env, "GITHUB_RUN_NUMBER"));
    let is_pr_event = matches!(event_name, "pull_request" | "pull_request_target");
    let payload = match var(env, "GITHUB_EVENT_PATH") {
        Some(path) => Some(read_event(workspace, path)?),
        None if is_pr_event => {
            bail_input!(
                "GITHUB_EVENT_PATH is not set for a '{event_name}' event: the event payload is needed for the pull request's head commit"
            )
        }
        None => None,
    };
    let payload_str = |pointer: &str| payload.as_ref().and_then(|p| p.pointer(pointer)).and_then(|v| v.as_str());
    context.default_branch = payload_str("/repository/default_branch").map(str::to_string);
    context.commit_date = commit_date(payload.as_ref(), context.sha.as_deref());
    let server_url = var(env, "GITHUB_SERVER_URL").unwrap_or("https://github.com");
    context.repository = RepositoryFacts {
        name: payload_str("/repository/name").map(str::to_string),
        description: payload_str("/repository/description").map(str::to_string),
        url: payload_str("/repository/html_url")
            .map(str::to_string)
            .or_else(|| var(env, "GITHUB_REPOSITORY").map(|repository| format!("{server_url}/{repository}"))),
        license: payload_str("/repository/license/spdx_id").map(str::to_string),
    };
    if is_pr_event {
        let pull = payload.as_ref().and_then(|p| p.get("pull_request"));
        let Some(pull) = pull.filter(|p| p.is_object()) else {
            bail_input!("the '{event_name}' event payload has no pull_request object")
        };
        context.pr = pull.get("number").and_then(json_pr).or_else(|| var(env, "GITHUB_REF").and_then(pr_from_ref));
        context.branch =
            owned(var(env, "GITHUB_HEAD_REF")).or_else(|| payload_str("/pull_request/head/ref").map(str::to_string));
        // GitHub builds the merge commit; the image is of the PR's code, so tag the head commit users can find.
        if let Some(head) = payload_str("/pull_request/head/sha") {
            context.sha = Some(head.to_string());
        }
        context.base_ref = payload_str("/pull_request/base/ref").map(|base| strip_ref(base).to_string());
        return Ok(context);
    }
    match (var(env, "GITHUB_REF_TYPE"), var(env, "GITHUB_REF_NAME")) {
        (Some("tag"), Some(name)) => context.git_tag = Some(name.to_string()),
        (Some("branch"), Some(name)) => context.branch = Some(name.to_string()),
        _ => match var(env, "GITHUB_REF") {
            Some(reference) if reference.starts_with("refs/tags/") => {
                context.git_tag = owned(reference.strip_prefix("refs/tags/"))
            }
            Some(reference) if reference.starts_with("refs/heads/") => {
                context.branch = Some(strip_ref(reference).into())
            }
            Some(reference) if reference.starts_with("refs/") => context.pr = pr_from_ref(reference),
            // A bare name is a branch, as env-ci's parseBranch reads it.
            Some(reference) => context.branch = Some(reference.to_string()),
            None => {}
        },
    }
    if context.git_tag.is_some() {
        context.base_ref = payload_str("/base_ref").map(|base| strip_ref(base).to_string());
    }
    Ok(context)
}

/// The date of the commit being built, from a push payload: its entry in `commits`, else `head_commit`.
fn commit_date(payload: Option<&serde_json::Value>, sha: Option<&str>) -> Option<String> {
    let payload = payload?;
    let timestamp = |commit: &serde_json::Value| commit.get("timestamp").and_then(|t| t.as_str()).map(str::to_string);
    let listed = payload.get("commits").and_then(|c| c.as_array()).and_then(|commits| {
        commits.iter().find(|commit| sha.is_some() && commit.get("id").and_then(|id| id.as_str()) == sha)
    });
    listed.and_then(timestamp).or_else(|| payload.get("head_commit").and_then(timestamp))
}

fn read_event(workspace: &dyn Workspace, path: &str) -> anyhow::Result<serde_json::Value> {
    let text = workspace.read_file(Path::new(path)).map_err(|error| {
        crate::error::bad_input(format!("cannot read the GitHub event payload '{path}' (GITHUB_EVENT_PATH): {error}"))
    })?;
    serde_json::from_str(&text).map_err(|error| {
        crate::error::bad_input(format!("the GitHub event payload '{path}' (GITHUB_EVENT_PATH) is not JSON: {error}"))
    })
}

fn codebuild(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Codebuild);
    context.repository = repository_from_clone_url(var(env, "CODEBUILD_SOURCE_REPO_URL"));
    context.run = owned(var(env, "CODEBUILD_BUILD_NUMBER"));
    context.event = owned(var(env, "CODEBUILD_WEBHOOK_EVENT")).or_else(|| owned(var(env, "CODEBUILD_INITIATOR")));
    let head_ref = var(env, "CODEBUILD_WEBHOOK_HEAD_REF");
    let trigger = var(env, "CODEBUILD_WEBHOOK_TRIGGER");
    let source_version = var(env, "CODEBUILD_SOURCE_VERSION");
    context.sha = owned(var(env, "CODEBUILD_RESOLVED_SOURCE_VERSION"))
        .or_else(|| source_version.filter(|v| is_hex_sha(v)).map(str::to_string));
    context.pr = trigger
        .and_then(|t| t.strip_prefix("pr/"))
        .or_else(|| source_version.and_then(|v| v.strip_prefix("pr/")))
        .and_then(parse_pr);
    context.git_tag = head_ref
        .and_then(|r| r.strip_prefix("refs/tags/"))
        .or_else(|| trigger.and_then(|t| t.strip_prefix("tag/")))
        .map(str::to_string);
    context.branch = head_ref
        .and_then(|r| r.strip_prefix("refs/heads/"))
        .or_else(|| trigger.and_then(|t| t.strip_prefix("branch/")))
        .or_else(|| {
            // A source version names a branch unless it is a commit, a PR, or CodePipeline's S3 artifact ARN.
            source_version.filter(|v| !is_hex_sha(v) && !v.starts_with("pr/") && !v.starts_with("arn:"))
        })
        .map(|b| strip_ref(b).to_string());
    if context.git_tag.is_some() {
        context.branch = None;
    }
    context
}

fn gitlab(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Gitlab);
    context.run = owned(var(env, "CI_PIPELINE_IID")).or_else(|| owned(var(env, "CI_PIPELINE_ID")));
    context.event = owned(var(env, "CI_PIPELINE_SOURCE"));
    context.default_branch = owned(var(env, "CI_DEFAULT_BRANCH"));
    context.repository = repository_from_url(var(env, "CI_PROJECT_URL"), var(env, "CI_PROJECT_NAME"));
    context.repository.description = owned(var(env, "CI_PROJECT_DESCRIPTION"));
    context.git_tag = owned(var(env, "CI_COMMIT_TAG"));
    // The IID is the number in the merge request's URL; CI_MERGE_REQUEST_ID (env-ci's pr) is instance-wide.
    context.pr = var(env, "CI_MERGE_REQUEST_IID").and_then(parse_pr);
    context.base_ref = owned(var(env, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"));
    context.sha = owned(var(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA")).or_else(|| owned(var(env, "CI_COMMIT_SHA")));
    if context.git_tag.is_none() || context.pr.is_some() {
        context.branch = owned(var(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"))
            .or_else(|| owned(var(env, "CI_COMMIT_BRANCH")))
            .or_else(|| owned(var(env, "CI_COMMIT_REF_NAME")));
    }
    context
}

fn jenkins(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Jenkins);
    context.repository = repository_from_clone_url(first(env, &["gitlabTargetRepoHttpUrl", "GIT_URL"]));
    context.run = owned(var(env, "BUILD_NUMBER"));
    // The GitHub PR Builder (ghprb*) and GitLab plugin (gitlab*) name the pull request's head commit; GIT_COMMIT
    // may be the merge the job built.
    context.sha = owned(var(env, "ghprbActualCommit"))
        .or_else(|| owned(var(env, "gitlabMergeRequestLastCommit")))
        .or_else(|| owned(var(env, "GIT_COMMIT")));
    context.git_tag = owned(var(env, "TAG_NAME"));
    // gitlabMergeRequestIid is the number in the merge request's URL; gitlabMergeRequestId is instance-wide.
    context.pr = var(env, "ghprbPullId")
        .and_then(parse_pr)
        .or_else(|| var(env, "gitlabMergeRequestIid").and_then(parse_pr))
        .or_else(|| var(env, "CHANGE_ID").and_then(parse_pr));
    if var(env, "BRANCH_IS_PRIMARY") == Some("true") {
        context.default_branch = owned(var(env, "BRANCH_NAME"));
    }
    if context.pr.is_some() {
        context.base_ref = owned(var(env, "ghprbTargetBranch"))
            .or_else(|| owned(var(env, "gitlabTargetBranch")))
            .or_else(|| owned(var(env, "CHANGE_TARGET")));
    }
    let plugin_branch = var(env, "ghprbSourceBranch").or_else(|| var(env, "gitlabSourceBranch"));
    if context.git_tag.is_none() || context.pr.is_some() {
        let local = var(env, "GIT_LOCAL_BRANCH").filter(|b| *b != "detached");
        let remote = var(env, "GIT_BRANCH").map(|b| {
            let b = strip_ref(b);
            b.strip_prefix("remotes/").unwrap_or(b).strip_prefix("origin/").unwrap_or(b)
        });
        // In a multibranch PR build BRANCH_NAME (and GIT_BRANCH) is `PR-<n>`; CHANGE_BRANCH is the real branch.
        let named = var(env, "BRANCH_NAME").filter(|b| context.pr.is_none() || !b.starts_with("PR-"));
        context.branch = owned(plugin_branch.filter(|_| context.pr.is_some()))
            .or_else(|| owned(var(env, "CHANGE_BRANCH")))
            .or_else(|| owned(named))
            .or_else(|| owned(local))
            .or_else(|| owned(remote.filter(|b| context.pr.is_none() || !b.starts_with("PR-"))))
            .or_else(|| owned(var(env, "gitlabBranch")))
            .or_else(|| owned(plugin_branch));
    }
    context
}

fn buildkite(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Buildkite);
    context.repository = repository_from_clone_url(var(env, "BUILDKITE_REPO"));
    context.run = owned(var(env, "BUILDKITE_BUILD_NUMBER"));
    context.default_branch = owned(var(env, "BUILDKITE_PIPELINE_DEFAULT_BRANCH"));
    context.sha = owned(var(env, "BUILDKITE_COMMIT").filter(|c| *c != "HEAD"));
    context.git_tag = owned(var(env, "BUILDKITE_TAG"));
    context.pr = var(env, "BUILDKITE_PULL_REQUEST").filter(|p| *p != "false").and_then(parse_pr);
    if context.pr.is_some() {
        context.base_ref = owned(var(env, "BUILDKITE_PULL_REQUEST_BASE_BRANCH"));
    }
    if context.git_tag.is_none() || context.pr.is_some() {
        context.branch = owned(var(env, "BUILDKITE_BRANCH"));
    }
    context
}

fn circleci(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Circleci);
    context.repository = repository_from_clone_url(var(env, "CIRCLE_REPOSITORY_URL"));
    context.run = owned(var(env, "CIRCLE_BUILD_NUM"));
    context.sha = owned(var(env, "CIRCLE_SHA1"));
    context.git_tag = owned(var(env, "CIRCLE_TAG"));
    context.pr = var(env, "CIRCLE_PR_NUMBER")
        .and_then(parse_pr)
        .or_else(|| var(env, "CIRCLE_PULL_REQUEST").and_then(pr_from_url))
        .or_else(|| var(env, "CI_PULL_REQUEST").and_then(pr_from_url));
    if context.git_tag.is_none() || context.pr.is_some() {
        context.branch = owned(var(env, "CIRCLE_BRANCH"));
    }
    context
}

fn bitbucket(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Bitbucket);
    context.run = owned(var(env, "BITBUCKET_BUILD_NUMBER"));
    context.sha = owned(var(env, "BITBUCKET_COMMIT"));
    context.git_tag = owned(var(env, "BITBUCKET_TAG"));
    context.pr = var(env, "BITBUCKET_PR_ID").and_then(parse_pr);
    context.base_ref = owned(var(env, "BITBUCKET_PR_DESTINATION_BRANCH"));
    if context.git_tag.is_none() || context.pr.is_some() {
        context.branch = owned(var(env, "BITBUCKET_BRANCH"));
    }
    let web = var(env, "BITBUCKET_REPO_FULL_NAME").map(|full| format!("https://bitbucket.org/{full}"));
    context.repository = repository_from_url(
        web.as_deref().or_else(|| var(env, "BITBUCKET_GIT_HTTP_ORIGIN")),
        var(env, "BITBUCKET_REPO_SLUG"),
    );
    context
}

fn azure(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::AzurePipelines);
    context.run = owned(var(env, "BUILD_BUILDNUMBER"));
    context.event = owned(var(env, "BUILD_REASON"));
    context.sha = owned(var(env, "BUILD_SOURCEVERSION"));
    let source_branch = var(env, "BUILD_SOURCEBRANCH");
    // For a GitHub repository PULLREQUESTID is GitHub's internal id and PULLREQUESTNUMBER the PR's number; Azure
    // Repos set only the id, which is its number there.
    context.pr = var(env, "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER")
        .and_then(parse_pr)
        .or_else(|| var(env, "SYSTEM_PULLREQUEST_PULLREQUESTID").and_then(parse_pr))
        .or_else(|| source_branch.and_then(pr_from_ref));
    context.git_tag = owned(source_branch.and_then(|b| b.strip_prefix("refs/tags/")));
    context.base_ref = var(env, "SYSTEM_PULLREQUEST_TARGETBRANCH").map(|b| strip_ref(b).to_string());
    context.repository = repository_from_url(
        var(env, "BUILD_REPOSITORY_URI"),
        // GitHub repositories are named `owner/name` here; the name alone, as GitHub's payload has it.
        var(env, "BUILD_REPOSITORY_NAME").map(|name| name.rsplit('/').next().unwrap_or(name)),
    );
    // Never BUILD_SOURCEBRANCHNAME: it keeps only the last path segment, so feature/a and fix/a collide.
    context.branch = match (var(env, "SYSTEM_PULLREQUEST_SOURCEBRANCH"), source_branch) {
        (Some(pr_branch), _) => Some(strip_ref(pr_branch).to_string()),
        (None, Some(branch)) => branch_from_ref(branch).map(str::to_string),
        _ => None,
    };
    context
}

/// A repository's web page from its clone URL, for the hosts whose clone URL is the page plus `.git` (GitHub,
/// GitLab, Bitbucket Cloud), over HTTPS or SSH (`git@github.com:octo/app.git`). Other hosts' clone URLs
/// (CodeCommit, Bitbucket Server's `/scm/…`) are not web pages and give nothing.
fn repository_from_clone_url(url: Option<&str>) -> RepositoryFacts {
    let host_and_path = url.and_then(|url| match url.split_once("://") {
        Some((_, rest)) => {
            let (authority, path) = rest.split_once('/')?;
            Some((authority.rsplit('@').next()?.split(':').next()?, path))
        }
        None => url.strip_prefix("git@")?.split_once(':'),
    });
    match host_and_path {
        Some((host, path)) if matches!(host, "github.com" | "gitlab.com" | "bitbucket.org") => {
            repository_from_url(Some(&format!("https://{host}/{path}")), None)
        }
        _ => RepositoryFacts::default(),
    }
}

/// TeamCity. env-ci reads the branch (`teamcity.build.branch`) from the build properties file named by
/// `TEAMCITY_BUILD_PROPERTIES_FILE`; detection here reads the environment alone, which has the commit and build
/// number but no branch: git fills it when HEAD is on one, else pass `--branch %teamcity.build.branch%`.
fn teamcity(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Teamcity);
    context.run = owned(var(env, "BUILD_NUMBER"));
    context.sha = owned(var(env, "BUILD_VCS_NUMBER"));
    context
}

fn drone(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Drone);
    context.run = owned(var(env, "DRONE_BUILD_NUMBER"));
    context.event = owned(var(env, "DRONE_BUILD_EVENT"));
    context.sha = owned(first(env, &["DRONE_COMMIT_SHA", "DRONE_COMMIT"]));
    context.git_tag = owned(var(env, "DRONE_TAG"));
    context.pr = var(env, "DRONE_PULL_REQUEST").and_then(parse_pr);
    context.default_branch = owned(var(env, "DRONE_REPO_BRANCH"));
    context.repository = repository_from_url(var(env, "DRONE_REPO_LINK"), var(env, "DRONE_REPO_NAME"));
    set_branch(
        &mut context,
        var(env, "DRONE_BRANCH"),
        var(env, "DRONE_SOURCE_BRANCH"),
        var(env, "DRONE_TARGET_BRANCH"),
    );
    context
}

fn woodpecker(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Woodpecker);
    context.run = owned(var(env, "CI_PIPELINE_NUMBER"));
    context.event = owned(var(env, "CI_PIPELINE_EVENT"));
    context.sha = owned(var(env, "CI_COMMIT_SHA"));
    context.git_tag = owned(var(env, "CI_COMMIT_TAG"));
    context.pr = var(env, "CI_COMMIT_PULL_REQUEST").and_then(parse_pr);
    context.default_branch = owned(var(env, "CI_REPO_DEFAULT_BRANCH"));
    context.repository = repository_from_url(var(env, "CI_REPO_URL"), var(env, "CI_REPO_NAME"));
    set_branch(
        &mut context,
        var(env, "CI_COMMIT_BRANCH"),
        var(env, "CI_COMMIT_SOURCE_BRANCH"),
        var(env, "CI_COMMIT_TARGET_BRANCH"),
    );
    context
}

/// Semaphore 2.0 (`SEMAPHORE_GIT_*`) and 1.0 (`BRANCH_NAME`, `PULL_REQUEST_NUMBER`, `REVISION`).
fn semaphore(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Semaphore);
    context.repository = repository_from_clone_url(var(env, "SEMAPHORE_GIT_URL"));
    context.run = owned(first(env, &["SEMAPHORE_WORKFLOW_NUMBER", "SEMAPHORE_BUILD_NUMBER"]));
    context.event = owned(var(env, "SEMAPHORE_GIT_REF_TYPE"));
    context.git_tag = owned(var(env, "SEMAPHORE_GIT_TAG_NAME"));
    context.pr = first(env, &["SEMAPHORE_GIT_PR_NUMBER", "PULL_REQUEST_NUMBER"]).and_then(parse_pr);
    // On a pull request SEMAPHORE_GIT_SHA is the merge; SEMAPHORE_GIT_PR_SHA the head.
    context.sha = owned(first(env, &["SEMAPHORE_GIT_PR_SHA", "SEMAPHORE_GIT_SHA", "REVISION"]));
    let branch = first(env, &["SEMAPHORE_GIT_BRANCH", "BRANCH_NAME"]);
    let source = first(env, &["SEMAPHORE_GIT_PR_BRANCH", "BRANCH_NAME"]);
    set_branch(&mut context, branch, source, var(env, "SEMAPHORE_GIT_BRANCH"));
    context
}

fn travis(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Travis);
    context.run = owned(var(env, "TRAVIS_BUILD_NUMBER"));
    context.event = owned(var(env, "TRAVIS_EVENT_TYPE"));
    context.git_tag = owned(var(env, "TRAVIS_TAG"));
    context.pr = pr_unless_false(env, "TRAVIS_PULL_REQUEST");
    // On a pull request TRAVIS_COMMIT is the merge; TRAVIS_PULL_REQUEST_SHA the head.
    context.sha = owned(var(env, "TRAVIS_PULL_REQUEST_SHA").filter(|_| context.pr.is_some()))
        .or_else(|| owned(var(env, "TRAVIS_COMMIT")));
    let branch = var(env, "TRAVIS_BRANCH");
    set_branch(&mut context, branch, var(env, "TRAVIS_PULL_REQUEST_BRANCH"), branch);
    context
}

fn bamboo(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Bamboo);
    context.run = owned(var(env, "bamboo_buildNumber"));
    context.sha = owned(first(env, &["bamboo_planRepository_1_revision", "bamboo_planRepository_revision"]));
    context.pr = var(env, "bamboo_repository_pr_key").and_then(parse_pr);
    context.repository = repository_from_clone_url(first(
        env,
        &["bamboo_planRepository_1_repositoryUrl", "bamboo_planRepository_repositoryUrl"],
    ));
    set_branch(
        &mut context,
        first(env, &["bamboo_planRepository_1_branchName", "bamboo_planRepository_branchName"]),
        var(env, "bamboo_repository_pr_sourceBranch"),
        var(env, "bamboo_repository_pr_targetBranch"),
    );
    context
}

fn codefresh(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Codefresh);
    context.run = owned(var(env, "CF_BUILD_ID"));
    context.sha = owned(var(env, "CF_REVISION"));
    context.pr = var(env, "CF_PULL_REQUEST_NUMBER").and_then(parse_pr);
    // CF_COMMIT_URL is `<repository page>/commit/<sha>` on GitHub, GitLab and Bitbucket.
    let page = var(env, "CF_COMMIT_URL").and_then(|url| url.split_once("/commit").map(|(page, _)| page));
    context.repository = repository_from_url(page, var(env, "CF_REPO_NAME"));
    let branch = var(env, "CF_BRANCH");
    set_branch(&mut context, branch, branch, var(env, "CF_PULL_REQUEST_TARGET"));
    context
}

fn appveyor(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Appveyor);
    context.run = owned(var(env, "APPVEYOR_BUILD_NUMBER"));
    context.git_tag = owned(var(env, "APPVEYOR_REPO_TAG_NAME"));
    context.pr = var(env, "APPVEYOR_PULL_REQUEST_NUMBER").and_then(parse_pr);
    context.sha = owned(var(env, "APPVEYOR_PULL_REQUEST_HEAD_COMMIT").filter(|_| context.pr.is_some()))
        .or_else(|| owned(var(env, "APPVEYOR_REPO_COMMIT")));
    let host = match var(env, "APPVEYOR_REPO_PROVIDER").map(str::to_ascii_lowercase).as_deref() {
        Some("github") => Some("https://github.com"),
        Some("gitlab") => Some("https://gitlab.com"),
        Some("bitbucket") => Some("https://bitbucket.org"),
        _ => None,
    };
    let page = host.zip(var(env, "APPVEYOR_REPO_NAME")).map(|(host, name)| format!("{host}/{name}"));
    context.repository = repository_from_url(page.as_deref(), None);
    let branch = var(env, "APPVEYOR_REPO_BRANCH");
    set_branch(&mut context, branch, var(env, "APPVEYOR_PULL_REQUEST_HEAD_REPO_BRANCH"), branch);
    context
}

fn bitrise(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Bitrise);
    context.run = owned(var(env, "BITRISE_BUILD_NUMBER"));
    context.sha = owned(var(env, "BITRISE_GIT_COMMIT"));
    context.git_tag = owned(var(env, "BITRISE_GIT_TAG"));
    context.pr = pr_unless_false(env, "BITRISE_PULL_REQUEST");
    context.repository = repository_from_clone_url(var(env, "GIT_REPOSITORY_URL"));
    let branch = var(env, "BITRISE_GIT_BRANCH");
    set_branch(&mut context, branch, branch, var(env, "BITRISEIO_GIT_BRANCH_DEST"));
    context
}

fn buddy(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Buddy);
    context.run = owned(var(env, "BUDDY_EXECUTION_ID"));
    context.sha = owned(var(env, "BUDDY_EXECUTION_REVISION"));
    context.git_tag = owned(var(env, "BUDDY_EXECUTION_TAG"));
    // BUDDY_EXECUTION_PULL_REQUEST_ID is `pull/<n>`.
    context.pr = var(env, "BUDDY_EXECUTION_PULL_REQUEST_NO")
        .and_then(parse_pr)
        .or_else(|| var(env, "BUDDY_EXECUTION_PULL_REQUEST_ID").and_then(pr_from_url));
    context.repository = repository_from_url(var(env, "BUDDY_SCM_URL"), None);
    set_branch(
        &mut context,
        var(env, "BUDDY_EXECUTION_BRANCH"),
        var(env, "BUDDY_EXECUTION_PULL_REQUEST_HEAD_BRANCH"),
        var(env, "BUDDY_EXECUTION_PULL_REQUEST_BASE_BRANCH"),
    );
    context
}

fn cirrus(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Cirrus);
    context.run = owned(var(env, "CIRRUS_BUILD_ID"));
    context.sha = owned(var(env, "CIRRUS_CHANGE_IN_REPO"));
    context.git_tag = owned(var(env, "CIRRUS_TAG"));
    context.pr = var(env, "CIRRUS_PR").and_then(parse_pr);
    context.default_branch = owned(var(env, "CIRRUS_DEFAULT_BRANCH"));
    context.repository = repository_from_url(var(env, "CIRRUS_REPO_CLONE_URL"), var(env, "CIRRUS_REPO_NAME"));
    // On a pull request CIRRUS_BRANCH is `pull/<n>` and CIRRUS_HEAD_BRANCH the source (env-ci reads CIRRUS_BRANCH).
    let source =
        var(env, "CIRRUS_HEAD_BRANCH").or_else(|| var(env, "CIRRUS_BRANCH").filter(|b| !b.starts_with("pull/")));
    set_branch(&mut context, var(env, "CIRRUS_BRANCH"), source, var(env, "CIRRUS_BASE_BRANCH"));
    context
}

fn codeship(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Codeship);
    context.run = owned(var(env, "CI_BUILD_NUMBER"));
    context.sha = owned(var(env, "CI_COMMIT_ID"));
    // Codeship Pro says CI_PR_NUMBER=0 outside a pull request; parse_pr refuses 0.
    context.pr = var(env, "CI_PR_NUMBER").and_then(parse_pr);
    let branch = var(env, "CI_BRANCH");
    set_branch(&mut context, branch, branch, None);
    context
}

/// Screwdriver prefixes its branches with the remote: `origin/main`.
fn screwdriver(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Screwdriver);
    context.run = owned(var(env, "SD_BUILD_ID"));
    context.sha = owned(var(env, "SD_BUILD_SHA"));
    context.pr = var(env, "SD_PULL_REQUEST").and_then(parse_pr);
    context.repository = repository_from_url(var(env, "SCM_URL"), None);
    let unremote = |key: &str| var(env, key).map(|b| b.strip_prefix("origin/").unwrap_or(b));
    set_branch(&mut context, unremote("GIT_BRANCH"), unremote("PR_BRANCH_NAME"), unremote("PR_BASE_BRANCH_NAME"));
    context
}

fn vela(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Vela);
    context.run = owned(var(env, "VELA_BUILD_NUMBER"));
    context.event = owned(var(env, "VELA_BUILD_EVENT"));
    context.sha = owned(var(env, "VELA_BUILD_COMMIT"));
    context.git_tag = owned(var(env, "VELA_BUILD_TAG"));
    context.pr = var(env, "VELA_BUILD_PULL_REQUEST").and_then(parse_pr);
    context.default_branch = owned(var(env, "VELA_REPO_BRANCH"));
    context.repository = repository_from_url(var(env, "VELA_REPO_LINK"), var(env, "VELA_REPO_NAME"));
    set_branch(
        &mut context,
        var(env, "VELA_BUILD_BRANCH"),
        var(env, "VELA_PULL_REQUEST_SOURCE"),
        var(env, "VELA_PULL_REQUEST_TARGET"),
    );
    context
}

/// Loads an environment dump in `KEY=VALUE` lines (blank lines and `#` comments skipped), as the fixtures are kept.
pub fn parse_env_dump(text: &str) -> anyhow::Result<EnvMap> {
    let mut env = EnvMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').with_context(|| format!("line {}: expected KEY=VALUE", number + 1))?;
        env.insert(key.to_string(), value.to_string());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> EnvMap {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// No files and no git: only the environment speaks.
    struct Bare(&'static str);

    impl Workspace for Bare {
        fn read_file(&self, _path: &Path) -> std::io::Result<String> {
            Ok(self.0.to_string())
        }

        fn git(&self, _args: &[&str]) -> Option<String> {
            None
        }
    }

    #[test]
    fn each_system_is_detected_by_its_marker_and_the_first_in_order_wins() {
        let cases: &[(&[(&str, &str)], CiSystem)] = &[
            (&[("GITHUB_ACTIONS", "true"), ("CODEBUILD_BUILD_ID", "b:1")], CiSystem::GithubActions),
            (&[("CODEBUILD_BUILD_ID", "b:1"), ("JENKINS_URL", "https://j/")], CiSystem::Codebuild),
            (&[("APPVEYOR", "True")], CiSystem::Appveyor),
            (&[("TF_BUILD", "True")], CiSystem::AzurePipelines),
            (&[("BUILD_BUILDURI", "vstfs:///Build/Build/1")], CiSystem::AzurePipelines),
            (&[("bamboo_agentId", "131073")], CiSystem::Bamboo),
            (&[("BITBUCKET_BUILD_NUMBER", "1")], CiSystem::Bitbucket),
            (&[("BITRISE_IO", "true")], CiSystem::Bitrise),
            (&[("BUDDY_WORKSPACE_ID", "111")], CiSystem::Buddy),
            (&[("BUILDKITE", "true")], CiSystem::Buildkite),
            (&[("CIRCLECI", "true")], CiSystem::Circleci),
            (&[("CIRRUS_CI", "true")], CiSystem::Cirrus),
            (&[("CF_BUILD_ID", "5c1")], CiSystem::Codefresh),
            (&[("CI_NAME", "codeship")], CiSystem::Codeship),
            (&[("DRONE", "true"), ("CI", "woodpecker")], CiSystem::Drone),
            (&[("GITLAB_CI", "true"), ("JENKINS_URL", "https://j/")], CiSystem::Gitlab),
            (&[("JENKINS_URL", "https://j/")], CiSystem::Jenkins),
            (&[("SCREWDRIVER", "true")], CiSystem::Screwdriver),
            (&[("SEMAPHORE", "true")], CiSystem::Semaphore),
            (&[("TEAMCITY_VERSION", "2024.1")], CiSystem::Teamcity),
            (&[("TRAVIS", "true")], CiSystem::Travis),
            (&[("VELA", "true")], CiSystem::Vela),
            (&[("CI", "woodpecker")], CiSystem::Woodpecker),
            (&[("CI", "true")], CiSystem::Unknown),
        ];
        for (pairs, system) in cases {
            let context = detect(&env_of(pairs), &Bare("{}"), &Overrides::default()).unwrap();
            assert_eq!(context.system, *system, "{pairs:?}");
        }
    }

    #[test]
    fn a_github_pull_request_without_its_payload_is_refused_where_env_ci_guesses() {
        // env-ci's "PR - with missing "pull_request" in event.json file" reports no branch and no number; a PR
        // image without its head commit would be tagged with GitHub's merge commit, so ecr-ship refuses.
        let env = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_REF", "refs/pull/10/merge"),
            ("GITHUB_SHA", "1234000000000000000000000000000000000000"),
            ("GITHUB_EVENT_PATH", "event.json"),
        ]);
        let error = detect(&env, &Bare("{}"), &Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("no pull_request object"), "{error}");
    }

    #[test]
    fn repository_urls_become_web_pages() {
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("https://gitlab.com/group/app", Some("https://gitlab.com/group/app"), Some("app")),
            ("https://github.com/octo/app.git", Some("https://github.com/octo/app"), Some("app")),
            (
                "https://org@dev.azure.com/org/proj/_git/app",
                Some("https://dev.azure.com/org/proj/_git/app"),
                Some("app"),
            ),
            ("https://ci.example.com/octo/app/", Some("https://ci.example.com/octo/app"), Some("app")),
            ("git@github.com:octo/app.git", None, None),
        ];
        for (url, web, name) in cases {
            let facts = repository_from_url(Some(url), None);
            assert_eq!(facts.url.as_deref(), *web, "{url}");
            assert_eq!(facts.name.as_deref(), *name, "{url}");
        }
    }

    #[test]
    fn clone_urls_of_known_hosts_become_web_pages() {
        let cases: &[(&str, Option<&str>)] = &[
            ("git@github.com:octo/app.git", Some("https://github.com/octo/app")),
            ("https://github.com/octo/app.git", Some("https://github.com/octo/app")),
            ("https://x-token-auth:secret@bitbucket.org/team/app.git", Some("https://bitbucket.org/team/app")),
            ("ssh://git@gitlab.com:22/group/sub/app.git", Some("https://gitlab.com/group/sub/app")),
            ("https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/app", None),
            ("https://bitbucket.example.com/scm/team/app.git", None),
        ];
        for (url, web) in cases {
            assert_eq!(repository_from_clone_url(Some(url)).url.as_deref(), *web, "{url}");
        }
    }

    #[test]
    fn systems_that_name_the_repository_or_default_branch_fill_them() {
        // The context, then its repository's url and name and the default branch.
        type Case = (CiContext, Option<&'static str>, Option<&'static str>, Option<&'static str>);
        let cases: Vec<Case> = vec![
            (
                drone(&env_of(&[
                    ("DRONE_REPO_LINK", "https://github.com/octo/app"),
                    ("DRONE_REPO_NAME", "app"),
                    ("DRONE_REPO_BRANCH", "main"),
                ])),
                Some("https://github.com/octo/app"),
                Some("app"),
                Some("main"),
            ),
            (
                woodpecker(&env_of(&[
                    ("CI_REPO_URL", "https://codeberg.org/octo/app"),
                    ("CI_REPO_NAME", "app"),
                    ("CI_REPO_DEFAULT_BRANCH", "trunk"),
                ])),
                Some("https://codeberg.org/octo/app"),
                Some("app"),
                Some("trunk"),
            ),
            (
                vela(&env_of(&[
                    ("VELA_REPO_LINK", "https://github.example.com/Org/Project"),
                    ("VELA_REPO_NAME", "Project"),
                    ("VELA_REPO_BRANCH", "main"),
                ])),
                Some("https://github.example.com/Org/Project"),
                Some("Project"),
                Some("main"),
            ),
            (
                cirrus(&env_of(&[
                    ("CIRRUS_REPO_CLONE_URL", "https://github.com/octo/app.git"),
                    ("CIRRUS_REPO_NAME", "app"),
                    ("CIRRUS_DEFAULT_BRANCH", "main"),
                ])),
                Some("https://github.com/octo/app"),
                Some("app"),
                Some("main"),
            ),
            (
                appveyor(&env_of(&[("APPVEYOR_REPO_PROVIDER", "gitHub"), ("APPVEYOR_REPO_NAME", "octo/app")])),
                Some("https://github.com/octo/app"),
                Some("app"),
                None,
            ),
            (
                codefresh(&env_of(&[
                    ("CF_COMMIT_URL", "https://github.com/octo/app/commit/5678000000000000000000000000000000000000"),
                    ("CF_REPO_NAME", "app"),
                ])),
                Some("https://github.com/octo/app"),
                Some("app"),
                None,
            ),
            (
                screwdriver(&env_of(&[("SCM_URL", "https://github.com/d2lam/myPipeline#main")])),
                Some("https://github.com/d2lam/myPipeline"),
                Some("myPipeline"),
                None,
            ),
            (
                jenkins(&env_of(&[("JENKINS_URL", "https://j/"), ("GIT_URL", "git@github.com:octo/app.git")])),
                Some("https://github.com/octo/app"),
                Some("app"),
                None,
            ),
            (
                circleci(&env_of(&[("CIRCLE_REPOSITORY_URL", "git@github.com:octo/app.git")])),
                Some("https://github.com/octo/app"),
                Some("app"),
                None,
            ),
        ];
        for (context, url, name, default_branch) in cases {
            assert_eq!(context.repository.url.as_deref(), url, "{}", context.system);
            assert_eq!(context.repository.name.as_deref(), name, "{}", context.system);
            assert_eq!(context.default_branch.as_deref(), default_branch, "{}", context.system);
        }
    }

    #[test]
    fn gitlab_bitbucket_and_azure_describe_the_repository() {
        let gitlab = gitlab(&env_of(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_NAME", "app"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/group/app"),
            ("CI_PROJECT_DESCRIPTION", "The app"),
            ("CI_DEFAULT_BRANCH", "trunk"),
        ]));
        assert_eq!(gitlab.repository.name.as_deref(), Some("app"));
        assert_eq!(gitlab.repository.url.as_deref(), Some("https://gitlab.example.com/group/app"));
        assert_eq!(gitlab.repository.description.as_deref(), Some("The app"));
        assert_eq!(gitlab.default_branch.as_deref(), Some("trunk"));
        let bitbucket = bitbucket(&env_of(&[
            ("BITBUCKET_BUILD_NUMBER", "3"),
            ("BITBUCKET_REPO_FULL_NAME", "team/app"),
            ("BITBUCKET_REPO_SLUG", "app"),
        ]));
        assert_eq!(bitbucket.repository.url.as_deref(), Some("https://bitbucket.org/team/app"));
        assert_eq!(bitbucket.repository.name.as_deref(), Some("app"));
        let azure = azure(&env_of(&[
            ("TF_BUILD", "True"),
            ("BUILD_REPOSITORY_URI", "https://github.com/octo/app"),
            ("BUILD_REPOSITORY_NAME", "octo/app"),
        ]));
        assert_eq!(azure.repository.url.as_deref(), Some("https://github.com/octo/app"));
        assert_eq!(azure.repository.name.as_deref(), Some("app"));
    }

    #[test]
    fn the_origin_names_the_system_and_what_was_given() {
        let cases: &[(CiSystem, &[&'static str], &str)] = &[
            (CiSystem::GithubActions, &[], "GitHub Actions build"),
            (CiSystem::Git, &[], "git build"),
            (CiSystem::Unknown, &["branch", "commit"], "git build (branch and commit given)"),
            (CiSystem::Unknown, &["commit"], "git build (commit given)"),
            (CiSystem::Git, &["branch", "commit", "git tag"], "git build (branch, commit and git tag given)"),
            (CiSystem::Jenkins, &["pull request"], "Jenkins build (pull request given)"),
            (CiSystem::Unknown, &[], "build outside CI and git (no --branch or --sha given)"),
        ];
        for (system, given, expected) in cases {
            let context = CiContext { given: given.to_vec(), ..CiContext::new(*system) };
            assert_eq!(context.origin(), *expected, "{system:?} {given:?}");
        }
    }
}
