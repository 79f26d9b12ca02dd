//! AppVeyor, detected by `APPVEYOR` (`docs/ci-variables.md` §1). Reads `APPVEYOR_REPO_COMMIT`, `APPVEYOR_REPO_BRANCH`
//! (a pull request's target), `APPVEYOR_REPO_TAG_NAME`, `APPVEYOR_BUILD_NUMBER`, `APPVEYOR_PULL_REQUEST_NUMBER`,
//! `APPVEYOR_PULL_REQUEST_HEAD_COMMIT`, `APPVEYOR_PULL_REQUEST_HEAD_REPO_BRANCH`, and the repository from
//! `APPVEYOR_REPO_PROVIDER` and `APPVEYOR_REPO_NAME`. `docs/ci-variables.md` §3 and §4.3 list these variables with
//! AppVeyor's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, repository_from_url, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
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

#[cfg(test)]
mod tests {
    use super::super::testing::{env_of, fixture};
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn names_the_repository_and_the_default_branch() {
        let context = detect(&env_of(&[("APPVEYOR_REPO_PROVIDER", "gitHub"), ("APPVEYOR_REPO_NAME", "octo/app")]));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/octo/app"));
        assert_eq!(context.repository.name.as_deref(), Some("app"));
        assert_eq!(context.default_branch.as_deref(), None);
    }

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-appveyor-pr.env"));
        assert_eq!(context.system, CiSystem::Appveyor);
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("master"), "APPVEYOR_REPO_BRANCH is the target on a pull request");
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.sha.as_deref(), Some(SHA), "APPVEYOR_REPO_COMMIT: there is no head commit variable");
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!(context.repository.url, None, "no APPVEYOR_REPO_PROVIDER");
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-appveyor-push.env"));
        assert_eq!(context.system, CiSystem::Appveyor);
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None, "a tag build reports the tag, not the branch");
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
    }
}
