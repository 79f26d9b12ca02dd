//! Bitrise, detected by `BITRISE_IO` (`docs/ci-variables.md` §1). Reads `BITRISE_GIT_COMMIT`, `BITRISE_GIT_BRANCH`,
//! `BITRISE_GIT_TAG`, `BITRISE_PULL_REQUEST` (`false` outside a pull request), `BITRISEIO_GIT_BRANCH_DEST`,
//! `BITRISE_BUILD_NUMBER` and `GIT_REPOSITORY_URL`. `docs/ci-variables.md` §3 and §4.7 list these variables with
//! Bitrise's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, pr_unless_false, repository_from_clone_url, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
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

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-bitrise-pr.env"));
        assert_eq!(context.system, CiSystem::Bitrise);
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("master"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-bitrise-push.env"));
        assert_eq!(context.system, CiSystem::Bitrise);
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None, "a tag build reports the tag, not the branch");
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
    }
}
