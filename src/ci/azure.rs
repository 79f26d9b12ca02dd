//! Azure Pipelines, detected by `TF_BUILD=true` or `BUILD_BUILDURI` (`docs/ci-variables.md` §1). Reads
//! `BUILD_SOURCEVERSION`, `BUILD_SOURCEBRANCH` (a branch, `refs/tags/…` or `refs/pull/<n>/merge`), `BUILD_BUILDNUMBER`,
//! `BUILD_REASON`, `BUILD_REPOSITORY_URI` and `BUILD_REPOSITORY_NAME`, and for a pull request
//! `SYSTEM_PULLREQUEST_PULLREQUESTNUMBER` (GitHub repositories) or `SYSTEM_PULLREQUEST_PULLREQUESTID` (Azure Repos),
//! `SYSTEM_PULLREQUEST_SOURCEBRANCH` and `SYSTEM_PULLREQUEST_TARGETBRANCH`; never `BUILD_SOURCEBRANCHNAME`.
//! `docs/ci-variables.md` §3 and §4.4 list these variables with Microsoft's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{branch_from_ref, owned, parse_pr, pr_from_ref, repository_from_url, strip_ref};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::AzurePipelines);
    context.run = owned(var(env, "BUILD_BUILDNUMBER"));
    context.event = owned(var(env, "BUILD_REASON"));
    context.sha = owned(var(env, "BUILD_SOURCEVERSION"));
    let source_branch = var(env, "BUILD_SOURCEBRANCH");
    // For a GitHub repository PULLREQUESTID is GitHub's internal id and PULLREQUESTNUMBER the PR's number; Azure
    // Repos set only the id, which is its number there.
    context.pr = var(env, "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER")
        .and_then(parse_pr)
        .or_else(|| var(env, "SYSTEM_PULLREQUEST_PULLREQUESTID").and_then(parse_pr))
        .or_else(|| source_branch.and_then(pr_from_ref));
    context.git_tag = owned(source_branch.and_then(|b| b.strip_prefix("refs/tags/")));
    context.base_ref = var(env, "SYSTEM_PULLREQUEST_TARGETBRANCH").map(|b| strip_ref(b).to_string());
    context.repository = repository_from_url(
        var(env, "BUILD_REPOSITORY_URI"),
        // GitHub repositories are named `owner/name` here; the name alone, as GitHub's payload has it.
        var(env, "BUILD_REPOSITORY_NAME").map(|name| name.rsplit('/').next().unwrap_or(name)),
    );
    // Never BUILD_SOURCEBRANCHNAME: it keeps only the last path segment, so feature/a and fix/a collide.
    context.branch = match (var(env, "SYSTEM_PULLREQUEST_SOURCEBRANCH"), source_branch) {
        (Some(pr_branch), _) => Some(strip_ref(pr_branch).to_string()),
        (None, Some(branch)) => branch_from_ref(branch).map(str::to_string),
        _ => None,
    };
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::{env_of, fixture};
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn describes_the_repository() {
        let azure = detect(&env_of(&[
            ("TF_BUILD", "True"),
            ("BUILD_REPOSITORY_URI", "https://github.com/octo/app"),
            ("BUILD_REPOSITORY_NAME", "octo/app"),
        ]));
        assert_eq!(azure.repository.url.as_deref(), Some("https://github.com/octo/app"));
        assert_eq!(azure.repository.name.as_deref(), Some("app"));
    }

    #[test]
    fn a_branch_build_keeps_the_whole_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/azure-branch.env"));
        assert_eq!(context.system, CiSystem::AzurePipelines);
        assert_eq!(context.branch.as_deref(), Some("feature/tools"), "not BUILD_SOURCEBRANCHNAME's tools");
        assert_eq!(context.sha.as_deref(), Some("3f786850e387550fdab836ed7e6dc881de23001b"));
        assert_eq!(context.run.as_deref(), Some("20261122.4"));
        assert_eq!(context.event.as_deref(), Some("IndividualCI"));
        assert_eq!((context.pr, context.git_tag), (None, None));
    }

    #[test]
    fn a_pull_request_reads_the_source_and_target_branches() {
        let context = fixture(include_str!("../../tests/fixtures/ci/azure-pull-request.env"));
        assert_eq!(context.pr, Some(7));
        assert_eq!(context.branch.as_deref(), Some("feature/tools"));
        assert_eq!(context.base_ref.as_deref(), Some("main"));
        assert_eq!(context.sha.as_deref(), Some("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"));
        assert_eq!(context.event.as_deref(), Some("PullRequest"));
    }

    #[test]
    fn envci_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-azure-pipelines-pr.env"));
        assert_eq!(context.pr, Some(9));
        assert_eq!(context.branch.as_deref(), Some("pr-branch"));
        assert_eq!(context.base_ref.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("1234"));
    }

    #[test]
    fn envci_push_of_a_full_ref() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-azure-pipelines-push-long-branch.env"));
        assert_eq!(context.branch.as_deref(), Some("master"));
        assert_eq!((context.pr, context.git_tag), (None, None));
    }

    #[test]
    fn envci_push_of_a_bare_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-azure-pipelines-push.env"));
        assert_eq!(context.branch.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("1234"));
        assert_eq!((context.pr, context.git_tag), (None, None));
    }
}
