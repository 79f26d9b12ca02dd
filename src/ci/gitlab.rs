//! GitLab CI, detected by `GITLAB_CI` (`docs/ci-variables.md` §1). Reads `CI_COMMIT_SHA`, `CI_COMMIT_TAG`,
//! `CI_COMMIT_BRANCH`, `CI_COMMIT_REF_NAME`, `CI_PIPELINE_IID` (else `CI_PIPELINE_ID`), `CI_PIPELINE_SOURCE`,
//! `CI_DEFAULT_BRANCH`, the project's `CI_PROJECT_URL`, `CI_PROJECT_NAME` and `CI_PROJECT_DESCRIPTION`, and for a merge
//! request `CI_MERGE_REQUEST_IID`, `CI_MERGE_REQUEST_SOURCE_BRANCH_NAME`, `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA` and
//! `CI_MERGE_REQUEST_TARGET_BRANCH_NAME`. `docs/ci-variables.md` §3 and §4.15 list these variables with GitLab's
//! documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{owned, parse_pr, repository_from_url};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Gitlab);
    context.run = owned(var(env, "CI_PIPELINE_IID")).or_else(|| owned(var(env, "CI_PIPELINE_ID")));
    context.event = owned(var(env, "CI_PIPELINE_SOURCE"));
    context.default_branch = owned(var(env, "CI_DEFAULT_BRANCH"));
    context.repository = repository_from_url(var(env, "CI_PROJECT_URL"), var(env, "CI_PROJECT_NAME"));
    context.repository.description = owned(var(env, "CI_PROJECT_DESCRIPTION"));
    context.git_tag = owned(var(env, "CI_COMMIT_TAG"));
    // The IID is the number in the merge request's URL; CI_MERGE_REQUEST_ID (env-ci's pr) is instance-wide.
    context.pr = var(env, "CI_MERGE_REQUEST_IID").and_then(parse_pr);
    context.base_ref = owned(var(env, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"));
    context.sha = owned(var(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA")).or_else(|| owned(var(env, "CI_COMMIT_SHA")));
    if context.git_tag.is_none() || context.pr.is_some() {
        context.branch = owned(var(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"))
            .or_else(|| owned(var(env, "CI_COMMIT_BRANCH")))
            .or_else(|| owned(var(env, "CI_COMMIT_REF_NAME")));
    }
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::{env_of, fixture};
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn describes_the_repository() {
        let gitlab = detect(&env_of(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_NAME", "app"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/group/app"),
            ("CI_PROJECT_DESCRIPTION", "The app"),
            ("CI_DEFAULT_BRANCH", "trunk"),
        ]));
        assert_eq!(gitlab.repository.name.as_deref(), Some("app"));
        assert_eq!(gitlab.repository.url.as_deref(), Some("https://gitlab.example.com/group/app"));
        assert_eq!(gitlab.repository.description.as_deref(), Some("The app"));
        assert_eq!(gitlab.default_branch.as_deref(), Some("trunk"));
    }

    #[test]
    fn envci_merge_request_reports_the_source_branch_and_the_iid() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-gitlab-pr.env"));
        assert_eq!(context.system, CiSystem::Gitlab);
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("master"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"), "CI_PIPELINE_ID when there is no IID");
        assert_eq!(context.repository.url.as_deref(), Some("https://gitlab.com/owner/repo"));
        assert_eq!(context.repository.name.as_deref(), Some("repo"));
    }

    #[test]
    fn envci_tag_push_reports_the_tag_and_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-gitlab-push.env"));
        assert_eq!(context.git_tag.as_deref(), Some("tag_name"));
        assert_eq!(context.branch, None, "CI_COMMIT_REF_NAME is the tag's name here");
        assert_eq!(context.pr, None);
        assert_eq!(context.run.as_deref(), Some("91011"));
    }

    #[test]
    fn a_branch_pipeline() {
        let context = fixture(include_str!("../../tests/fixtures/ci/gitlab-branch.env"));
        assert_eq!(context.branch.as_deref(), Some("fix/Issue#77"));
        assert_eq!(context.sha.as_deref(), Some("3f786850e387550fdab836ed7e6dc881de23001b"));
        assert_eq!(context.run.as_deref(), Some("1202"));
        assert_eq!(context.event.as_deref(), Some("push"));
        assert_eq!(context.default_branch.as_deref(), Some("main"));
        assert_eq!((context.pr, context.git_tag), (None, None));
    }

    #[test]
    fn a_merged_result_pipeline_is_tagged_with_the_source_commit() {
        let context = fixture(include_str!("../../tests/fixtures/ci/gitlab-merge-request.env"));
        assert_eq!(context.pr, Some(77));
        assert_eq!(context.branch.as_deref(), Some("fix/Issue#77"));
        assert_eq!(context.base_ref.as_deref(), Some("main"));
        // CI_COMMIT_SHA is the merged result; the source branch's head is what the user pushed.
        assert_eq!(context.sha.as_deref(), Some("b6589fc6ab0dc82cf12099d1c2d40ab994e8410c"));
        assert_eq!(context.event.as_deref(), Some("merge_request_event"));
        assert_eq!(context.run.as_deref(), Some("1201"));
    }
}
