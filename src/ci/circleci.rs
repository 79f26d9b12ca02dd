//! CircleCI, detected by `CIRCLECI=true` (`docs/ci-variables.md` §1). Reads `CIRCLE_SHA1`, `CIRCLE_BRANCH`,
//! `CIRCLE_TAG`, `CIRCLE_BUILD_NUM`, `CIRCLE_REPOSITORY_URL`, and the pull request from `CIRCLE_PR_NUMBER`,
//! `CIRCLE_PULL_REQUEST` or CircleCI 1.0's `CI_PULL_REQUEST` (the number is the URL's last digits). CircleCI names no
//! pull request target, so there is no `base_ref`. `docs/ci-variables.md` §3 and §4.10 list these variables with
//! CircleCI's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, pr_from_url, repository_from_clone_url};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Circleci);
    context.repository = repository_from_clone_url(var(env, "CIRCLE_REPOSITORY_URL"));
    context.run = owned(var(env, "CIRCLE_BUILD_NUM"));
    context.sha = owned(var(env, "CIRCLE_SHA1"));
    context.git_tag = owned(var(env, "CIRCLE_TAG"));
    context.pr = var(env, "CIRCLE_PR_NUMBER")
        .and_then(parse_pr)
        .or_else(|| var(env, "CIRCLE_PULL_REQUEST").and_then(pr_from_url))
        .or_else(|| var(env, "CI_PULL_REQUEST").and_then(pr_from_url));
    if context.git_tag.is_none() || context.pr.is_some() {
        context.branch = owned(var(env, "CIRCLE_BRANCH"));
    }
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::{env_of, fixture};
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn an_ssh_clone_url_names_the_repository() {
        let context = detect(&env_of(&[("CIRCLE_REPOSITORY_URL", "git@github.com:octo/app.git")]));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/octo/app"));
        assert_eq!(context.repository.name.as_deref(), Some("app"));
        assert_eq!(context.default_branch, None);
    }

    #[test]
    fn a_pull_request_takes_its_number_from_the_url() {
        let context = fixture(include_str!("../../tests/fixtures/ci/circleci-pr.env"));
        assert_eq!(context.system, CiSystem::Circleci);
        assert_eq!(context.pr, Some(31));
        assert_eq!(context.branch.as_deref(), Some("feature/cache"));
        assert_eq!(context.sha.as_deref(), Some("b6589fc6ab0dc82cf12099d1c2d40ab994e8410c"));
        assert_eq!(context.run.as_deref(), Some("903"));
        assert_eq!(context.base_ref, None);
    }

    fn assert_envci_pull_request(context: &CiContext) {
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("1234"));
    }

    #[test]
    fn envci_pull_request_of_circleci_1() {
        assert_envci_pull_request(&fixture(include_str!("../../tests/fixtures/ci/envci-circleci-pr-1.env")));
    }

    #[test]
    fn envci_pull_request_of_circleci_2() {
        assert_envci_pull_request(&fixture(include_str!("../../tests/fixtures/ci/envci-circleci-pr-2.env")));
    }

    #[test]
    fn envci_pull_request_by_number() {
        assert_envci_pull_request(&fixture(include_str!("../../tests/fixtures/ci/envci-circleci-pr-number.env")));
    }

    #[test]
    fn envci_tag_push_reports_the_tag_and_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-circleci-push.env"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None);
        assert_eq!(context.pr, None);
        assert_eq!(context.run.as_deref(), Some("1234"));
    }
}
