//! Bitbucket Pipelines, detected by `BITBUCKET_BUILD_NUMBER` (`docs/ci-variables.md` §1). Reads `BITBUCKET_COMMIT`,
//! `BITBUCKET_BRANCH`, `BITBUCKET_TAG`, `BITBUCKET_PR_ID`, `BITBUCKET_PR_DESTINATION_BRANCH`, `BITBUCKET_BUILD_NUMBER`,
//! and the repository from `BITBUCKET_REPO_FULL_NAME` (else `BITBUCKET_GIT_HTTP_ORIGIN`) and `BITBUCKET_REPO_SLUG`.
//! `docs/ci-variables.md` §3 and §4.6 list these variables with Atlassian's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, repository_from_url};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Bitbucket);
    context.run = owned(var(env, "BITBUCKET_BUILD_NUMBER"));
    context.sha = owned(var(env, "BITBUCKET_COMMIT"));
    context.git_tag = owned(var(env, "BITBUCKET_TAG"));
    context.pr = var(env, "BITBUCKET_PR_ID").and_then(parse_pr);
    context.base_ref = owned(var(env, "BITBUCKET_PR_DESTINATION_BRANCH"));
    if context.git_tag.is_none() || context.pr.is_some() {
        context.branch = owned(var(env, "BITBUCKET_BRANCH"));
    }
    let web = var(env, "BITBUCKET_REPO_FULL_NAME").map(|full| format!("https://bitbucket.org/{full}"));
    context.repository = repository_from_url(
        web.as_deref().or_else(|| var(env, "BITBUCKET_GIT_HTTP_ORIGIN")),
        var(env, "BITBUCKET_REPO_SLUG"),
    );
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::{env_of, fixture};
    use super::*;

    #[test]
    fn describes_the_repository() {
        let bitbucket = detect(&env_of(&[
            ("BITBUCKET_BUILD_NUMBER", "3"),
            ("BITBUCKET_REPO_FULL_NAME", "team/app"),
            ("BITBUCKET_REPO_SLUG", "app"),
        ]));
        assert_eq!(bitbucket.repository.url.as_deref(), Some("https://bitbucket.org/team/app"));
        assert_eq!(bitbucket.repository.name.as_deref(), Some("app"));
    }

    #[test]
    fn a_tag_build() {
        let context = fixture(include_str!("../../tests/fixtures/ci/bitbucket-tag.env"));
        assert_eq!(context.system, CiSystem::Bitbucket);
        assert_eq!(context.git_tag.as_deref(), Some("release-1.0"));
        assert_eq!(context.branch, None);
        assert_eq!(context.sha.as_deref(), Some("3f786850e387550fdab836ed7e6dc881de23001b"));
        assert_eq!(context.run.as_deref(), Some("12"));
        assert_eq!(context.repository.url.as_deref(), Some("https://bitbucket.org/octo/app"));
        assert_eq!(context.repository.name.as_deref(), Some("app"), "from the URL: there is no slug");
    }

    #[test]
    fn envci_tag_push_reports_the_tag_and_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-bitbucket-push.env"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None);
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some("b5ce5ce000000000000000000000000000000000"));
        assert_eq!(context.run.as_deref(), Some("1964"));
        assert_eq!(context.repository.url.as_deref(), Some("https://bitbucket.org/owner/repo"));
        assert_eq!(context.repository.name.as_deref(), Some("repo"));
    }
}
