//! The vocabulary of CI detection, a leaf the detectors and the entry point share: the environment map, what
//! detection may read besides it (a [`Workspace`]), which system runs us, and the [`CiContext`] it reports.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

/// Environment variables as seen by the process, injected so detection stays a pure function.
pub type EnvMap = BTreeMap<String, String>;

/// The process environment, read once in `main`'s call path: the variables whose values are text, as an
/// [`EnvMap`], and apart from it the ones whose value is not UTF-8, each with its value shown
/// ([`escaped_bytes`]). [`refuse_not_utf8`] says which of those ecr-ship reads; the map stays a pure input.
#[derive(Debug, Default)]
pub struct ProcessEnv {
    pub vars: EnvMap,
    pub not_utf8: Vec<(String, String)>,
}

pub fn process_env() -> ProcessEnv {
    let mut env = ProcessEnv::default();
    for (key, value) in std::env::vars_os() {
        let Ok(key) = key.into_string() else { continue };
        match value.into_string() {
            Ok(value) => {
                env.vars.insert(key, value);
            }
            Err(value) => env.not_utf8.push((key, escaped_bytes(value.as_encoded_bytes()))),
        }
    }
    env
}

/// Every variable of the environment map ecr-ship reads besides its own `ECR_SHIP_*` (which clap reads): CI
/// detection's, the resolver's (SOURCE_DATE_EPOCH, docker/metadata-action's, GitHub's output files) and the AWS
/// settings'. Paths of the machine (HOME, TMPDIR, PATH, the engine's config) are not here: they may be any bytes.
/// A unit test keeps the list complete against the code's `var(env, …)` reads.
#[rustfmt::skip]
pub const READ_VARIABLES: &[&str] = &[
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "APPVEYOR", "APPVEYOR_BUILD_NUMBER",
    "APPVEYOR_PULL_REQUEST_HEAD_COMMIT", "APPVEYOR_PULL_REQUEST_HEAD_REPO_BRANCH", "APPVEYOR_PULL_REQUEST_NUMBER",
    "APPVEYOR_REPO_BRANCH", "APPVEYOR_REPO_COMMIT", "APPVEYOR_REPO_NAME", "APPVEYOR_REPO_PROVIDER",
    "APPVEYOR_REPO_TAG_NAME", "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR",
    "AWS_ENDPOINT_URL_ECR_PUBLIC", "AWS_ENDPOINT_URL_STS", "AWS_MAX_ATTEMPTS", "AWS_PROFILE", "AWS_REGION",
    "BITBUCKET_BRANCH", "BITBUCKET_BUILD_NUMBER", "BITBUCKET_COMMIT", "BITBUCKET_GIT_HTTP_ORIGIN",
    "BITBUCKET_PR_DESTINATION_BRANCH", "BITBUCKET_PR_ID", "BITBUCKET_REPO_FULL_NAME", "BITBUCKET_REPO_SLUG",
    "BITBUCKET_TAG", "BITRISEIO_GIT_BRANCH_DEST", "BITRISE_BUILD_NUMBER", "BITRISE_GIT_BRANCH", "BITRISE_GIT_COMMIT",
    "BITRISE_GIT_TAG", "BITRISE_IO", "BITRISE_PULL_REQUEST", "BRANCH_IS_PRIMARY", "BRANCH_NAME",
    "BUDDY_EXECUTION_BRANCH", "BUDDY_EXECUTION_ID", "BUDDY_EXECUTION_PULL_REQUEST_BASE_BRANCH",
    "BUDDY_EXECUTION_PULL_REQUEST_HEAD_BRANCH", "BUDDY_EXECUTION_PULL_REQUEST_ID", "BUDDY_EXECUTION_PULL_REQUEST_NO",
    "BUDDY_EXECUTION_REVISION", "BUDDY_EXECUTION_TAG", "BUDDY_SCM_URL", "BUDDY_WORKSPACE_ID", "BUILDKITE",
    "BUILDKITE_BRANCH", "BUILDKITE_BUILD_NUMBER", "BUILDKITE_COMMIT", "BUILDKITE_PIPELINE_DEFAULT_BRANCH",
    "BUILDKITE_PULL_REQUEST", "BUILDKITE_PULL_REQUEST_BASE_BRANCH", "BUILDKITE_REPO", "BUILDKITE_TAG", "BUILD_BUILDID",
    "BUILD_BUILDNUMBER", "BUILD_BUILDURI", "BUILD_NUMBER", "BUILD_REASON", "BUILD_REPOSITORY_NAME",
    "BUILD_REPOSITORY_URI", "BUILD_SOURCEBRANCH", "BUILD_SOURCEVERSION", "BUILD_VCS_NUMBER", "CF_BRANCH",
    "CF_BUILD_ID", "CF_COMMIT_URL", "CF_PULL_REQUEST_NUMBER", "CF_PULL_REQUEST_TARGET", "CF_REPO_NAME", "CF_REVISION",
    "CHANGE_BRANCH", "CHANGE_ID", "CHANGE_TARGET", "CI", "CIRCLECI", "CIRCLE_BRANCH", "CIRCLE_BUILD_NUM",
    "CIRCLE_PR_NUMBER", "CIRCLE_PULL_REQUEST", "CIRCLE_REPOSITORY_URL", "CIRCLE_SHA1", "CIRCLE_TAG",
    "CIRRUS_BASE_BRANCH", "CIRRUS_BRANCH", "CIRRUS_BUILD_ID", "CIRRUS_CHANGE_IN_REPO", "CIRRUS_CI",
    "CIRRUS_DEFAULT_BRANCH", "CIRRUS_HEAD_BRANCH", "CIRRUS_PR", "CIRRUS_REPO_CLONE_URL", "CIRRUS_REPO_NAME",
    "CIRRUS_TAG", "CI_BRANCH", "CI_BUILD_NUMBER", "CI_COMMIT_BRANCH", "CI_COMMIT_ID", "CI_COMMIT_PULL_REQUEST",
    "CI_COMMIT_REF_NAME", "CI_COMMIT_SHA", "CI_COMMIT_SOURCE_BRANCH", "CI_COMMIT_TAG", "CI_COMMIT_TARGET_BRANCH",
    "CI_DEFAULT_BRANCH", "CI_JOB_ID", "CI_MERGE_REQUEST_IID", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "CI_NAME", "CI_PIPELINE_EVENT",
    "CI_PIPELINE_ID", "CI_PIPELINE_IID", "CI_PIPELINE_NUMBER", "CI_PIPELINE_SOURCE", "CI_PROJECT_DESCRIPTION",
    "CI_PROJECT_NAME", "CI_PROJECT_URL", "CI_PR_NUMBER", "CI_PULL_REQUEST", "CI_REPO_DEFAULT_BRANCH", "CI_REPO_NAME",
    "CI_REPO_URL", "CODEBUILD_BUILD_ARN", "CODEBUILD_BUILD_ID", "CODEBUILD_BUILD_NUMBER", "CODEBUILD_BUILD_SUCCEEDING", "CODEBUILD_INITIATOR",
    "CODEBUILD_RESOLVED_SOURCE_VERSION", "CODEBUILD_SOURCE_REPO_URL", "CODEBUILD_SOURCE_VERSION",
    "CODEBUILD_WEBHOOK_EVENT", "CODEBUILD_WEBHOOK_HEAD_REF", "CODEBUILD_WEBHOOK_TRIGGER",
    "DOCKER_CONTEXT", "DOCKER_HOST", "DOCKER_METADATA_SHORT_SHA_LENGTH", "DRONE", "DRONE_BRANCH", "DRONE_BUILD_EVENT", "DRONE_BUILD_NUMBER",
    "DRONE_COMMIT", "DRONE_COMMIT_SHA", "DRONE_PULL_REQUEST", "DRONE_REPO_BRANCH", "DRONE_REPO_LINK",
    "DRONE_REPO_NAME", "DRONE_SOURCE_BRANCH", "DRONE_TAG", "DRONE_TARGET_BRANCH", "GITHUB_ACTIONS",
    "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_HEAD_REF", "GITHUB_OUTPUT", "GITHUB_REF", "GITHUB_REF_NAME",
    "GITHUB_REF_TYPE", "GITHUB_REPOSITORY", "GITHUB_RUN_ATTEMPT", "GITHUB_RUN_ID", "GITHUB_RUN_NUMBER",
    "GITHUB_SERVER_URL", "GITHUB_SHA", "GITHUB_STEP_SUMMARY", "GITLAB_CI", "GIT_BRANCH", "GIT_COMMIT",
    "GIT_LOCAL_BRANCH", "GIT_REPOSITORY_URL", "GIT_URL", "JENKINS_URL", "PULL_REQUEST_NUMBER", "REVISION", "SCM_URL",
    "SCREWDRIVER", "SD_BUILD_ID", "SD_BUILD_SHA", "SD_PULL_REQUEST", "SEMAPHORE", "SEMAPHORE_BUILD_NUMBER",
    "SEMAPHORE_GIT_BRANCH", "SEMAPHORE_GIT_PR_BRANCH", "SEMAPHORE_GIT_PR_NUMBER", "SEMAPHORE_GIT_PR_SHA",
    "SEMAPHORE_GIT_REF_TYPE", "SEMAPHORE_GIT_SHA", "SEMAPHORE_GIT_TAG_NAME", "SEMAPHORE_GIT_URL",
    "SEMAPHORE_WORKFLOW_NUMBER", "SOURCE_DATE_EPOCH", "SYSTEM_PULLREQUEST_PULLREQUESTID",
    "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", "SYSTEM_PULLREQUEST_SOURCEBRANCH", "SYSTEM_PULLREQUEST_TARGETBRANCH",
    "TAG_NAME", "TEAMCITY_VERSION", "TF_BUILD", "TRAVIS", "TRAVIS_BRANCH", "TRAVIS_BUILD_NUMBER", "TRAVIS_COMMIT",
    "TRAVIS_EVENT_TYPE", "TRAVIS_PULL_REQUEST", "TRAVIS_PULL_REQUEST_BRANCH", "TRAVIS_PULL_REQUEST_SHA", "TRAVIS_TAG",
    "VELA", "VELA_BUILD_BRANCH", "VELA_BUILD_COMMIT", "VELA_BUILD_EVENT", "VELA_BUILD_NUMBER",
    "VELA_BUILD_PULL_REQUEST", "VELA_BUILD_TAG", "VELA_PULL_REQUEST_SOURCE", "VELA_PULL_REQUEST_TARGET",
    "VELA_REPO_BRANCH", "VELA_REPO_LINK", "VELA_REPO_NAME", "bamboo_agentId", "bamboo_buildNumber",
    "bamboo_planRepository_1_branchName", "bamboo_planRepository_1_revision", "bamboo_planRepository_branchName",
    "bamboo_planRepository_revision", "bamboo_repository_pr_key", "bamboo_repository_pr_sourceBranch",
    "bamboo_repository_pr_targetBranch", "ghprbActualCommit", "ghprbPullId", "ghprbSourceBranch", "ghprbTargetBranch",
    "gitlabBranch", "gitlabMergeRequestIid", "gitlabMergeRequestLastCommit", "gitlabSourceBranch",
    "gitlabTargetBranch", "gitlabTargetRepoHttpUrl",
];

/// Bad input when a variable ecr-ship reads is not UTF-8: its value cannot be read as text, and leaving it out
/// would quietly drop a branch, a commit or a setting.
pub fn refuse_not_utf8(not_utf8: &[(String, String)]) -> anyhow::Result<()> {
    match not_utf8.iter().find(|(key, _)| READ_VARIABLES.contains(&key.as_str())) {
        Some((key, shown)) => Err(crate::error::bad_input(format!(
            "the environment variable {key} is not UTF-8 ('{shown}'): ecr-ship reads it as text and will not guess; \
             set it to UTF-8 text or unset it"
        ))),
        None => Ok(()),
    }
}

/// Bytes that should have been UTF-8 text, shown: the text as it is, control characters escaped, and each byte
/// that is not UTF-8 as `\xNN`.
pub fn escaped_bytes(bytes: &[u8]) -> String {
    let mut shown = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                shown.extend(c.escape_default());
            } else {
                shown.push(c);
            }
        }
        for byte in chunk.invalid() {
            shown.push_str(&format!("\\x{byte:02x}"));
        }
    }
    shown
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
    pub(super) fn new(system: CiSystem) -> CiContext {
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
