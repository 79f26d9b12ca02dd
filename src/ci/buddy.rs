//! Buddy, detected by `BUDDY_WORKSPACE_ID` (`docs/ci-variables.md` §1). Reads `BUDDY_EXECUTION_REVISION`,
//! `BUDDY_EXECUTION_BRANCH`, `BUDDY_EXECUTION_TAG`, `BUDDY_EXECUTION_ID`, `BUDDY_EXECUTION_PULL_REQUEST_NO` (else the
//! digits of `BUDDY_EXECUTION_PULL_REQUEST_ID`, `pull/<n>`), `BUDDY_EXECUTION_PULL_REQUEST_HEAD_BRANCH`,
//! `BUDDY_EXECUTION_PULL_REQUEST_BASE_BRANCH` and `BUDDY_SCM_URL`. `docs/ci-variables.md` §3 and §4.8 list these
//! variables with Buddy's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, pr_from_url, repository_from_url, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
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

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-buddy-pr.env"));
        assert_eq!(context.system, CiSystem::Buddy);
        assert_eq!(context.pr, Some(10), "the digits of pull/10");
        assert_eq!(context.branch, None, "no head branch variable");
        assert_eq!(context.base_ref, None);
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("5"));
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-buddy-push.env"));
        assert_eq!(context.system, CiSystem::Buddy);
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None, "a tag build reports the tag, not the branch");
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("5"));
    }
}
