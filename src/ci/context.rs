//! The vocabulary of CI detection, a leaf the detectors and the entry point share: the environment map, what
//! detection may read besides it (a [`Workspace`]), which system runs us, and the [`CiContext`] it reports.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

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
