//! Codeship, detected by `CI_NAME=codeship` (`docs/ci-variables.md` §1). Reads `CI_COMMIT_ID`, `CI_BRANCH`,
//! `CI_BUILD_NUMBER` and `CI_PR_NUMBER` (`0` outside a pull request on Codeship Pro). `docs/ci-variables.md` §3 and
//! §4.13 list these variables with Codeship's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Codeship);
    context.run = owned(var(env, "CI_BUILD_NUMBER"));
    context.sha = owned(var(env, "CI_COMMIT_ID"));
    // Codeship Pro says CI_PR_NUMBER=0 outside a pull request; parse_pr refuses 0.
    context.pr = var(env, "CI_PR_NUMBER").and_then(parse_pr);
    let branch = var(env, "CI_BRANCH");
    set_branch(&mut context, branch, branch, None);
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-codeship-push.env"));
        assert_eq!(context.system, CiSystem::Codeship);
        assert_eq!(context.branch.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!((context.pr, context.git_tag), (None, None));
    }
}
