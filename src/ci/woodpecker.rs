//! Woodpecker CI, detected by `CI=woodpecker` (`docs/ci-variables.md` §1). Reads `CI_COMMIT_SHA`, `CI_COMMIT_BRANCH`,
//! `CI_COMMIT_TAG`, `CI_COMMIT_PULL_REQUEST`, `CI_COMMIT_SOURCE_BRANCH`, `CI_COMMIT_TARGET_BRANCH`,
//! `CI_PIPELINE_NUMBER`, `CI_PIPELINE_EVENT`, `CI_REPO_DEFAULT_BRANCH`, `CI_REPO_URL` and `CI_REPO_NAME`.
//! `docs/ci-variables.md` §3 and §4.22 list these variables with Woodpecker's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, repository_from_url, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Woodpecker);
    context.run = owned(var(env, "CI_PIPELINE_NUMBER"));
    context.event = owned(var(env, "CI_PIPELINE_EVENT"));
    context.sha = owned(var(env, "CI_COMMIT_SHA"));
    context.git_tag = owned(var(env, "CI_COMMIT_TAG"));
    context.pr = var(env, "CI_COMMIT_PULL_REQUEST").and_then(parse_pr);
    context.default_branch = owned(var(env, "CI_REPO_DEFAULT_BRANCH"));
    context.repository = repository_from_url(var(env, "CI_REPO_URL"), var(env, "CI_REPO_NAME"));
    set_branch(
        &mut context,
        var(env, "CI_COMMIT_BRANCH"),
        var(env, "CI_COMMIT_SOURCE_BRANCH"),
        var(env, "CI_COMMIT_TARGET_BRANCH"),
    );
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
            ("CI_REPO_URL", "https://codeberg.org/octo/app"),
            ("CI_REPO_NAME", "app"),
            ("CI_REPO_DEFAULT_BRANCH", "trunk"),
        ]));
        assert_eq!(context.repository.url.as_deref(), Some("https://codeberg.org/octo/app"));
        assert_eq!(context.repository.name.as_deref(), Some("app"));
        assert_eq!(context.default_branch.as_deref(), Some("trunk"));
    }

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-woodpecker-pr.env"));
        assert_eq!(context.system, CiSystem::Woodpecker);
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"), "CI_COMMIT_SOURCE_BRANCH, not CI_COMMIT_BRANCH");
        assert_eq!(context.base_ref.as_deref(), Some("main"));
        assert_eq!(context.event.as_deref(), Some("pull_request"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!(context.repository.name.as_deref(), Some("repo"));
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-woodpecker-push.env"));
        assert_eq!(context.system, CiSystem::Woodpecker);
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None, "a tag build reports the tag, not the branch");
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
    }
}
