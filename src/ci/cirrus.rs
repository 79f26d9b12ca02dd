//! Cirrus CI, detected by `CIRRUS_CI` (`docs/ci-variables.md` §1). Reads `CIRRUS_CHANGE_IN_REPO`, `CIRRUS_BRANCH`
//! (`pull/<n>` on a pull request), `CIRRUS_HEAD_BRANCH`, `CIRRUS_BASE_BRANCH`, `CIRRUS_TAG`, `CIRRUS_PR`,
//! `CIRRUS_BUILD_ID`, `CIRRUS_DEFAULT_BRANCH`, `CIRRUS_REPO_CLONE_URL` and `CIRRUS_REPO_NAME`. `docs/ci-variables.md`
//! §3 and §4.11 list these variables with Cirrus CI's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, repository_from_url, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Cirrus);
    context.run = owned(var(env, "CIRRUS_BUILD_ID"));
    context.sha = owned(var(env, "CIRRUS_CHANGE_IN_REPO"));
    context.git_tag = owned(var(env, "CIRRUS_TAG"));
    context.pr = var(env, "CIRRUS_PR").and_then(parse_pr);
    context.default_branch = owned(var(env, "CIRRUS_DEFAULT_BRANCH"));
    context.repository = repository_from_url(var(env, "CIRRUS_REPO_CLONE_URL"), var(env, "CIRRUS_REPO_NAME"));
    // On a pull request CIRRUS_BRANCH is `pull/<n>` and CIRRUS_HEAD_BRANCH the source (env-ci reads CIRRUS_BRANCH).
    let source =
        var(env, "CIRRUS_HEAD_BRANCH").or_else(|| var(env, "CIRRUS_BRANCH").filter(|b| !b.starts_with("pull/")));
    set_branch(&mut context, var(env, "CIRRUS_BRANCH"), source, var(env, "CIRRUS_BASE_BRANCH"));
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
            ("CIRRUS_REPO_CLONE_URL", "https://github.com/octo/app.git"),
            ("CIRRUS_REPO_NAME", "app"),
            ("CIRRUS_DEFAULT_BRANCH", "main"),
        ]));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/octo/app"));
        assert_eq!(context.repository.name.as_deref(), Some("app"));
        assert_eq!(context.default_branch.as_deref(), Some("main"));
    }

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-cirrus-pr.env"));
        assert_eq!(context.system, CiSystem::Cirrus);
        assert_eq!(context.pr, Some(239));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"), "CIRRUS_BRANCH when it is not pull/<n>");
        assert_eq!(context.base_ref.as_deref(), Some("master"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("1234"));
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-cirrus-push.env"));
        assert_eq!(context.system, CiSystem::Cirrus);
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None, "a tag build reports the tag, not the branch");
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("1234"));
    }
}
