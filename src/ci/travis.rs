//! Travis CI, detected by `TRAVIS` (`docs/ci-variables.md` §1). Reads `TRAVIS_COMMIT`, `TRAVIS_PULL_REQUEST_SHA`,
//! `TRAVIS_BRANCH` (a pull request's target), `TRAVIS_PULL_REQUEST_BRANCH`, `TRAVIS_PULL_REQUEST` (`false` outside a
//! pull request), `TRAVIS_TAG`, `TRAVIS_BUILD_NUMBER` and `TRAVIS_EVENT_TYPE`. `docs/ci-variables.md` §3 and §4.20 list
//! these variables with Travis CI's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, pr_unless_false, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
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

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-travis-pr.env"));
        assert_eq!(context.system, CiSystem::Travis);
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("master"), "TRAVIS_BRANCH is the target on a pull request");
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.sha.as_deref(), Some(SHA), "TRAVIS_COMMIT: there is no TRAVIS_PULL_REQUEST_SHA");
        assert_eq!(context.run.as_deref(), Some("91011"));
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-travis-push.env"));
        assert_eq!(context.system, CiSystem::Travis);
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None, "a tag build reports the tag, not the branch");
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
    }
}
