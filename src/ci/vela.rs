//! Vela, detected by `VELA` (`docs/ci-variables.md` §1). Reads `VELA_BUILD_COMMIT`, `VELA_BUILD_BRANCH`,
//! `VELA_BUILD_TAG`, `VELA_BUILD_PULL_REQUEST`, `VELA_PULL_REQUEST_SOURCE`, `VELA_PULL_REQUEST_TARGET`,
//! `VELA_BUILD_NUMBER`, `VELA_BUILD_EVENT`, `VELA_REPO_BRANCH` (the default branch), `VELA_REPO_LINK` and
//! `VELA_REPO_NAME`. `docs/ci-variables.md` §3 and §4.21 list these variables with Vela's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, repository_from_url, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Vela);
    context.run = owned(var(env, "VELA_BUILD_NUMBER"));
    context.event = owned(var(env, "VELA_BUILD_EVENT"));
    context.sha = owned(var(env, "VELA_BUILD_COMMIT"));
    context.git_tag = owned(var(env, "VELA_BUILD_TAG"));
    context.pr = var(env, "VELA_BUILD_PULL_REQUEST").and_then(parse_pr);
    context.default_branch = owned(var(env, "VELA_REPO_BRANCH"));
    context.repository = repository_from_url(var(env, "VELA_REPO_LINK"), var(env, "VELA_REPO_NAME"));
    set_branch(
        &mut context,
        var(env, "VELA_BUILD_BRANCH"),
        var(env, "VELA_PULL_REQUEST_SOURCE"),
        var(env, "VELA_PULL_REQUEST_TARGET"),
    );
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::{env_of, fixture};
    use super::*;

    const SHA: &str = "a1b2c30000000000000000000000000000000000";

    #[test]
    fn names_the_repository_and_the_default_branch() {
        let context = detect(&env_of(&[
            ("VELA_REPO_LINK", "https://github.example.com/Org/Project"),
            ("VELA_REPO_NAME", "Project"),
            ("VELA_REPO_BRANCH", "main"),
        ]));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.example.com/Org/Project"));
        assert_eq!(context.repository.name.as_deref(), Some("Project"));
        assert_eq!(context.default_branch.as_deref(), Some("main"));
    }

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-vela-pr.env"));
        assert_eq!(context.system, CiSystem::Vela);
        assert_eq!(context.pr, Some(1));
        assert_eq!(context.branch.as_deref(), Some("my-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("main"));
        assert_eq!(context.event.as_deref(), Some("pull_request"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("25"));
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-vela-push.env"));
        assert_eq!(context.branch.as_deref(), Some("my-branch"));
        assert_eq!(context.event.as_deref(), Some("push"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!((context.pr, context.git_tag), (None, None));
    }

    #[test]
    fn envci_tag_reports_the_tag_and_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-vela-tag.env"));
        assert_eq!(context.git_tag.as_deref(), Some("v1.0.2"));
        assert_eq!(context.branch, None, "VELA_BUILD_BRANCH is set but the build is of a tag");
        assert_eq!(context.event.as_deref(), Some("tag"));
        assert_eq!(context.pr, None);
    }
}
