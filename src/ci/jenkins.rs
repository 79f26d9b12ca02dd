//! Jenkins, detected by `JENKINS_URL` (`docs/ci-variables.md` §1). Reads the Git plugin's `GIT_COMMIT`, `GIT_BRANCH`,
//! `GIT_LOCAL_BRANCH` and `GIT_URL`; multibranch pipelines' `BRANCH_NAME`, `BRANCH_IS_PRIMARY`, `TAG_NAME`,
//! `CHANGE_ID`, `CHANGE_BRANCH` and `CHANGE_TARGET`; `BUILD_NUMBER`; the GitHub Pull Request Builder's `ghprbPullId`,
//! `ghprbActualCommit`, `ghprbSourceBranch` and `ghprbTargetBranch`; and the GitLab plugin's `gitlabMergeRequestIid`,
//! `gitlabMergeRequestLastCommit`, `gitlabSourceBranch`, `gitlabTargetBranch`, `gitlabBranch` and
//! `gitlabTargetRepoHttpUrl`. `docs/ci-variables.md` §3 and §4.16 list these variables with Jenkins's and its plugins'
//! documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{first, owned, parse_pr, repository_from_clone_url, strip_ref};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Jenkins);
    context.repository = repository_from_clone_url(first(env, &["gitlabTargetRepoHttpUrl", "GIT_URL"]));
    context.run = owned(var(env, "BUILD_NUMBER"));
    // The GitHub PR Builder (ghprb*) and GitLab plugin (gitlab*) name the pull request's head commit; GIT_COMMIT
    // may be the merge the job built.
    context.sha = owned(var(env, "ghprbActualCommit"))
        .or_else(|| owned(var(env, "gitlabMergeRequestLastCommit")))
        .or_else(|| owned(var(env, "GIT_COMMIT")));
    context.git_tag = owned(var(env, "TAG_NAME"));
    // gitlabMergeRequestIid is the number in the merge request's URL; gitlabMergeRequestId is instance-wide.
    context.pr = var(env, "ghprbPullId")
        .and_then(parse_pr)
        .or_else(|| var(env, "gitlabMergeRequestIid").and_then(parse_pr))
        .or_else(|| var(env, "CHANGE_ID").and_then(parse_pr));
    if var(env, "BRANCH_IS_PRIMARY") == Some("true") {
        context.default_branch = owned(var(env, "BRANCH_NAME"));
    }
    if context.pr.is_some() {
        context.base_ref = owned(var(env, "ghprbTargetBranch"))
            .or_else(|| owned(var(env, "gitlabTargetBranch")))
            .or_else(|| owned(var(env, "CHANGE_TARGET")));
    }
    let plugin_branch = var(env, "ghprbSourceBranch").or_else(|| var(env, "gitlabSourceBranch"));
    if context.git_tag.is_none() || context.pr.is_some() {
        let local = var(env, "GIT_LOCAL_BRANCH").filter(|b| *b != "detached");
        let remote = var(env, "GIT_BRANCH").map(|b| {
            let b = strip_ref(b);
            b.strip_prefix("remotes/").unwrap_or(b).strip_prefix("origin/").unwrap_or(b)
        });
        // In a multibranch PR build BRANCH_NAME (and GIT_BRANCH) is `PR-<n>`; CHANGE_BRANCH is the real branch.
        let named = var(env, "BRANCH_NAME").filter(|b| context.pr.is_none() || !b.starts_with("PR-"));
        context.branch = owned(plugin_branch.filter(|_| context.pr.is_some()))
            .or_else(|| owned(var(env, "CHANGE_BRANCH")))
            .or_else(|| owned(named))
            .or_else(|| owned(local))
            .or_else(|| owned(remote.filter(|b| context.pr.is_none() || !b.starts_with("PR-"))))
            .or_else(|| owned(var(env, "gitlabBranch")))
            .or_else(|| owned(plugin_branch));
    }
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::{env_of, fixture};
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn a_git_url_over_ssh_names_the_repository() {
        let context = detect(&env_of(&[("JENKINS_URL", "https://j/"), ("GIT_URL", "git@github.com:octo/app.git")]));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/octo/app"));
        assert_eq!(context.repository.name.as_deref(), Some("app"));
        assert_eq!(context.default_branch, None);
    }

    #[test]
    fn envci_ghprb_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-jenkins-pr-ghprb.env"));
        assert_eq!(context.system, CiSystem::Jenkins);
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
    }

    #[test]
    fn envci_gitlab_plugin_merge_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-jenkins-pr-gitlab.env"));
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
    }

    #[test]
    fn envci_multibranch_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-jenkins-pr.env"));
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref, None, "no CHANGE_TARGET");
        assert_eq!(context.git_tag, None);
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-jenkins-push.env"));
        assert_eq!(context.branch.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!((context.pr, context.git_tag), (None, None));
    }

    #[test]
    fn a_freestyle_job_strips_the_remote_from_git_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/jenkins-freestyle.env"));
        assert_eq!(context.branch.as_deref(), Some("release/2.0"));
        assert_eq!(context.sha.as_deref(), Some("3f786850e387550fdab836ed7e6dc881de23001b"));
        assert_eq!(context.run.as_deref(), Some("88"));
        assert_eq!(context.pr, None);
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/octo-org/app"));
        assert_eq!(context.repository.name.as_deref(), Some("app"));
    }

    #[test]
    fn a_ghprb_pull_request_is_tagged_with_the_actual_commit() {
        let context = fixture(include_str!("../../tests/fixtures/ci/jenkins-ghprb-pr.env"));
        assert_eq!(context.pr, Some(31));
        assert_eq!(context.branch.as_deref(), Some("feature/login"), "not GIT_BRANCH's pr/31/merge");
        assert_eq!(context.sha.as_deref(), Some("9c1185a5c5e9fc54612808977ee8f548b2258d31"), "not GIT_COMMIT");
        assert_eq!(context.base_ref.as_deref(), Some("main"));
    }

    #[test]
    fn a_gitlab_plugin_merge_request_reads_the_iid_and_the_last_commit() {
        let context = fixture(include_str!("../../tests/fixtures/ci/jenkins-gitlab-plugin-mr.env"));
        assert_eq!(context.pr, Some(12), "the IID, not the instance-wide gitlabMergeRequestId");
        assert_eq!(context.branch.as_deref(), Some("fix/crash-on-start"));
        assert_eq!(context.sha.as_deref(), Some("1f2e3d4c5b6a79880716253443526170f8e9dacb"));
        assert_eq!(context.base_ref.as_deref(), Some("main"));
        assert_eq!(context.run.as_deref(), Some("77"));
    }

    #[test]
    fn a_gitlab_plugin_push_reads_gitlab_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/jenkins-gitlab-plugin-push.env"));
        assert_eq!(context.branch.as_deref(), Some("develop"));
        assert_eq!(context.sha.as_deref(), Some("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"));
        assert_eq!((context.pr, context.base_ref), (None, None));
    }

    #[test]
    fn a_multibranch_build_of_the_primary_branch_names_the_default_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/jenkins-multibranch-main.env"));
        assert_eq!(context.branch.as_deref(), Some("main"));
        assert_eq!(context.default_branch.as_deref(), Some("main"));
        assert_eq!(context.sha.as_deref(), Some("3f786850e387550fdab836ed7e6dc881de23001b"));
        assert_eq!(context.run.as_deref(), Some("88"));
    }

    #[test]
    fn a_multibranch_pull_request_reads_change_branch_not_pr_n() {
        let context = fixture(include_str!("../../tests/fixtures/ci/jenkins-multibranch-pr-default.env"));
        assert_eq!(context.pr, Some(24));
        assert_eq!(context.branch.as_deref(), Some("feature/Search-v2"));
        assert_eq!(context.base_ref.as_deref(), Some("main"));
        assert_eq!(context.sha.as_deref(), Some("b6589fc6ab0dc82cf12099d1c2d40ab994e8410c"));
    }

    #[test]
    fn a_multibranch_pull_request_with_its_repository() {
        let context = fixture(include_str!("../../tests/fixtures/ci/jenkins-multibranch-pr.env"));
        assert_eq!(context.pr, Some(24));
        assert_eq!(context.branch.as_deref(), Some("feature/Search-v2"));
        assert_eq!(context.base_ref.as_deref(), Some("main"));
        assert_eq!(context.default_branch, None, "BRANCH_IS_PRIMARY=false");
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/octo-org/app"));
    }

    #[test]
    fn a_tag_build_reports_the_tag_and_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/jenkins-tag.env"));
        assert_eq!(context.git_tag.as_deref(), Some("v2.0.0"));
        assert_eq!(context.branch, None, "BRANCH_NAME is the tag's name here");
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some("3f786850e387550fdab836ed7e6dc881de23001b"));
    }
}
