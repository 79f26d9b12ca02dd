//! Buildkite, detected by `BUILDKITE=true` (`docs/ci-variables.md` §1). Reads `BUILDKITE_COMMIT` (unless it is the
//! literal `HEAD`), `BUILDKITE_BRANCH`, `BUILDKITE_TAG`, `BUILDKITE_PULL_REQUEST` (`false` outside a pull request),
//! `BUILDKITE_PULL_REQUEST_BASE_BRANCH`, `BUILDKITE_BUILD_NUMBER`, `BUILDKITE_PIPELINE_DEFAULT_BRANCH` and
//! `BUILDKITE_REPO`. `docs/ci-variables.md` §3 and §4.9 list these variables with Buildkite's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, repository_from_clone_url};

pub(super) fn detect(env: &EnvMap) -> CiContext {
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

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn a_branch_build() {
        let context = fixture(include_str!("../../tests/fixtures/ci/buildkite-branch.env"));
        assert_eq!(context.system, CiSystem::Buildkite);
        assert_eq!(context.branch.as_deref(), Some("main"));
        assert_eq!(context.default_branch.as_deref(), Some("main"));
        assert_eq!(context.sha.as_deref(), Some("3f786850e387550fdab836ed7e6dc881de23001b"));
        assert_eq!(context.run.as_deref(), Some("77"));
        // BUILDKITE_PULL_REQUEST=false and an empty BUILDKITE_TAG.
        assert_eq!((context.pr, context.git_tag), (None, None));
    }

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-buildkite-pr.env"));
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("master"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/owner/repo"));
    }

    #[test]
    fn envci_tag_push_reports_the_tag_and_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-buildkite-push.env"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None);
        assert_eq!(context.pr, None);
        assert_eq!(context.base_ref, None);
    }
}
