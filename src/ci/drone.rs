//! Drone, detected by `DRONE` (`docs/ci-variables.md` §1; with `CI=woodpecker` as well it is still Drone, as in
//! env-ci). Reads `DRONE_COMMIT_SHA` (else `DRONE_COMMIT`), `DRONE_BRANCH`, `DRONE_TAG`, `DRONE_PULL_REQUEST`,
//! `DRONE_SOURCE_BRANCH`, `DRONE_TARGET_BRANCH`, `DRONE_BUILD_NUMBER`, `DRONE_BUILD_EVENT`, `DRONE_REPO_BRANCH` (the
//! default branch), `DRONE_REPO_LINK` and `DRONE_REPO_NAME`. `docs/ci-variables.md` §3 and §4.14 list these variables
//! with Drone's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{first, owned, parse_pr, repository_from_url, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Drone);
    context.run = owned(var(env, "DRONE_BUILD_NUMBER"));
    context.event = owned(var(env, "DRONE_BUILD_EVENT"));
    context.sha = owned(first(env, &["DRONE_COMMIT_SHA", "DRONE_COMMIT"]));
    context.git_tag = owned(var(env, "DRONE_TAG"));
    context.pr = var(env, "DRONE_PULL_REQUEST").and_then(parse_pr);
    context.default_branch = owned(var(env, "DRONE_REPO_BRANCH"));
    context.repository = repository_from_url(var(env, "DRONE_REPO_LINK"), var(env, "DRONE_REPO_NAME"));
    set_branch(
        &mut context,
        var(env, "DRONE_BRANCH"),
        var(env, "DRONE_SOURCE_BRANCH"),
        var(env, "DRONE_TARGET_BRANCH"),
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
            ("DRONE_REPO_LINK", "https://github.com/octo/app"),
            ("DRONE_REPO_NAME", "app"),
            ("DRONE_REPO_BRANCH", "main"),
        ]));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/octo/app"));
        assert_eq!(context.repository.name.as_deref(), Some("app"));
        assert_eq!(context.default_branch.as_deref(), Some("main"));
    }

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-drone-pr.env"));
        assert_eq!(context.system, CiSystem::Drone);
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"), "DRONE_SOURCE_BRANCH, not DRONE_BRANCH");
        assert_eq!(context.base_ref.as_deref(), Some("master"));
        assert_eq!(context.event.as_deref(), Some("pull_request"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!(context.repository.name.as_deref(), Some("repo"));
        assert_eq!(context.repository.url, None, "no DRONE_REPO_LINK");
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-drone-push.env"));
        assert_eq!(context.system, CiSystem::Drone);
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None, "a tag build reports the tag, not the branch");
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
    }
}
