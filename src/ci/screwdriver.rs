//! Screwdriver, detected by `SCREWDRIVER` (`docs/ci-variables.md` §1). Reads `SD_BUILD_SHA`, `SD_BUILD_ID`,
//! `SD_PULL_REQUEST`, `GIT_BRANCH`, `PR_BRANCH_NAME` and `PR_BASE_BRANCH_NAME` (branches prefixed with the remote,
//! `origin/`), and `SCM_URL`. `docs/ci-variables.md` §3 and §4.17 list these variables with Screwdriver's
//! documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, repository_from_url, set_branch};

/// Screwdriver prefixes its branches with the remote: `origin/main`.
pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Screwdriver);
    context.run = owned(var(env, "SD_BUILD_ID"));
    context.sha = owned(var(env, "SD_BUILD_SHA"));
    context.pr = var(env, "SD_PULL_REQUEST").and_then(parse_pr);
    context.repository = repository_from_url(var(env, "SCM_URL"), None);
    let unremote = |key: &str| var(env, key).map(|b| b.strip_prefix("origin/").unwrap_or(b));
    set_branch(&mut context, unremote("GIT_BRANCH"), unremote("PR_BRANCH_NAME"), unremote("PR_BASE_BRANCH_NAME"));
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::{env_of, fixture};
    use super::*;

    const SD_SHA: &str = "b5a94cdabf23b21303a0e6d5be5e96bd6300847a";

    #[test]
    fn names_the_repository_and_the_default_branch() {
        let context = detect(&env_of(&[("SCM_URL", "https://github.com/d2lam/myPipeline#main")]));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/d2lam/myPipeline"));
        assert_eq!(context.repository.name.as_deref(), Some("myPipeline"));
        assert_eq!(context.default_branch.as_deref(), None);
    }

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-screwdriver-pr.env"));
        assert_eq!(context.system, CiSystem::Screwdriver);
        assert_eq!(context.pr, Some(1));
        assert_eq!(context.branch.as_deref(), Some("feat/env-ci"), "origin/ is stripped");
        assert_eq!(context.base_ref.as_deref(), Some("main"));
        assert_eq!(context.sha.as_deref(), Some(SD_SHA));
        assert_eq!(context.run.as_deref(), Some("173"));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/d2lam/myPipeline"));
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-screwdriver-push.env"));
        assert_eq!(context.system, CiSystem::Screwdriver);
        assert_eq!(context.branch.as_deref(), Some("main"), "origin/ is stripped");
        assert_eq!(context.sha.as_deref(), Some(SD_SHA));
        assert_eq!(context.run.as_deref(), Some("173"));
        assert_eq!((context.pr, context.git_tag, context.base_ref), (None, None, None));
    }
}
