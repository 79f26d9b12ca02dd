//! Semaphore, detected by `SEMAPHORE` (`docs/ci-variables.md` §1). Reads Semaphore 2.0's `SEMAPHORE_GIT_SHA`,
//! `SEMAPHORE_GIT_PR_SHA`, `SEMAPHORE_GIT_BRANCH`, `SEMAPHORE_GIT_PR_BRANCH`, `SEMAPHORE_GIT_PR_NUMBER`,
//! `SEMAPHORE_GIT_TAG_NAME`, `SEMAPHORE_GIT_REF_TYPE`, `SEMAPHORE_WORKFLOW_NUMBER` and `SEMAPHORE_GIT_URL`, and
//! Semaphore 1.0's `REVISION`, `BRANCH_NAME`, `PULL_REQUEST_NUMBER` and `SEMAPHORE_BUILD_NUMBER`.
//! `docs/ci-variables.md` §3 and §4.18 list these variables with Semaphore's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{first, owned, parse_pr, repository_from_clone_url, set_branch};

/// Semaphore 2.0 (`SEMAPHORE_GIT_*`) and 1.0 (`BRANCH_NAME`, `PULL_REQUEST_NUMBER`, `REVISION`).
pub(super) fn detect(env: &EnvMap) -> CiContext {
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

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn envci_pull_request_of_semaphore_1() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-semaphore-pr-1.env"));
        assert_eq!(context.system, CiSystem::Semaphore);
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref, None, "Semaphore 1.0 names no target");
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
    }

    #[test]
    fn envci_pull_request_of_semaphore_2() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-semaphore-pr-2.env"));
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("master"), "SEMAPHORE_GIT_BRANCH is the target");
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run, None, "SEMAPHORE_JOB_ID is not a run number");
    }

    #[test]
    fn envci_push_of_semaphore_1() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-semaphore-push-1.env"));
        assert_eq!(context.branch.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!((context.pr, context.git_tag), (None, None));
    }

    #[test]
    fn envci_tag_push_of_semaphore_2_reports_the_tag_and_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-semaphore-push-2-tag.env"));
        assert_eq!(context.git_tag.as_deref(), Some("v1.0.0"));
        assert_eq!(context.branch, None);
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some(SHA));
    }
}
