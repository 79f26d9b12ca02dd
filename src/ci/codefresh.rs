//! Codefresh, detected by `CF_BUILD_ID` (`docs/ci-variables.md` §1). Reads `CF_REVISION`, `CF_BRANCH`, `CF_BUILD_ID`,
//! `CF_PULL_REQUEST_NUMBER`, `CF_PULL_REQUEST_TARGET`, and the repository from `CF_COMMIT_URL` and `CF_REPO_NAME`.
//! `docs/ci-variables.md` §3 and §4.12 list these variables with Codefresh's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, repository_from_url, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
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

#[cfg(test)]
mod tests {
    use super::super::testing::{env_of, fixture};
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn names_the_repository_and_the_default_branch() {
        let context = detect(&env_of(&[
            ("CF_COMMIT_URL", "https://github.com/octo/app/commit/5678000000000000000000000000000000000000"),
            ("CF_REPO_NAME", "app"),
        ]));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/octo/app"));
        assert_eq!(context.repository.name.as_deref(), Some("app"));
        assert_eq!(context.default_branch.as_deref(), None);
    }

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-codefresh-pr.env"));
        assert_eq!(context.system, CiSystem::Codefresh);
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!(context.repository.name.as_deref(), Some("repo"));
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-codefresh-push.env"));
        assert_eq!(context.system, CiSystem::Codefresh);
        assert_eq!(context.branch.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!((context.pr, context.git_tag, context.base_ref), (None, None, None));
    }
}
