//! AWS CodeBuild, detected by `CODEBUILD_BUILD_ID` (`docs/ci-variables.md` §1; ahead of Jenkins, because the CodeBuild
//! plugin for Jenkins runs its builds inside CodeBuild). Reads `CODEBUILD_RESOLVED_SOURCE_VERSION`,
//! `CODEBUILD_SOURCE_VERSION` (a commit, a branch, `pr/<n>`, or CodePipeline's S3 artifact ARN), the webhook's
//! `CODEBUILD_WEBHOOK_HEAD_REF`, `CODEBUILD_WEBHOOK_TRIGGER` (`branch/…`, `tag/…`, `pr/<n>`) and
//! `CODEBUILD_WEBHOOK_EVENT`, `CODEBUILD_INITIATOR`, `CODEBUILD_BUILD_NUMBER` and `CODEBUILD_SOURCE_REPO_URL`. A build
//! CodePipeline started names no branch. `docs/ci-variables.md` §3 and §4.2 list these variables with AWS's
//! documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{is_hex_sha, owned, parse_pr, repository_from_clone_url, strip_ref};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Codebuild);
    context.repository = repository_from_clone_url(var(env, "CODEBUILD_SOURCE_REPO_URL"));
    context.run = owned(var(env, "CODEBUILD_BUILD_NUMBER"));
    context.event = owned(var(env, "CODEBUILD_WEBHOOK_EVENT")).or_else(|| owned(var(env, "CODEBUILD_INITIATOR")));
    let head_ref = var(env, "CODEBUILD_WEBHOOK_HEAD_REF");
    let trigger = var(env, "CODEBUILD_WEBHOOK_TRIGGER");
    let source_version = var(env, "CODEBUILD_SOURCE_VERSION");
    context.sha = owned(var(env, "CODEBUILD_RESOLVED_SOURCE_VERSION"))
        .or_else(|| source_version.filter(|v| is_hex_sha(v)).map(str::to_string));
    context.pr = trigger
        .and_then(|t| t.strip_prefix("pr/"))
        .or_else(|| source_version.and_then(|v| v.strip_prefix("pr/")))
        .and_then(parse_pr);
    context.git_tag = head_ref
        .and_then(|r| r.strip_prefix("refs/tags/"))
        .or_else(|| trigger.and_then(|t| t.strip_prefix("tag/")))
        .map(str::to_string);
    context.branch = head_ref
        .and_then(|r| r.strip_prefix("refs/heads/"))
        .or_else(|| trigger.and_then(|t| t.strip_prefix("branch/")))
        .or_else(|| {
            // A source version names a branch unless it is a commit, a PR, or CodePipeline's S3 artifact ARN.
            source_version.filter(|v| !is_hex_sha(v) && !v.starts_with("pr/") && !v.starts_with("arn:"))
        })
        .map(|b| strip_ref(b).to_string());
    if context.git_tag.is_some() {
        context.branch = None;
    }
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;

    const PUSHED: &str = "3f786850e387550fdab836ed7e6dc881de23001b";

    #[test]
    fn a_pipeline_build_has_its_commit_and_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/codebuild-pipeline-detached.env"));
        assert_eq!(context.system, CiSystem::Codebuild);
        assert_eq!(context.sha.as_deref(), Some(PUSHED));
        // CODEBUILD_SOURCE_VERSION is CodePipeline's S3 artifact, not a branch.
        assert_eq!((context.branch, context.git_tag, context.pr), (None, None, None));
        assert_eq!(context.event.as_deref(), Some("codepipeline/app-pipeline"));
        assert_eq!(context.run.as_deref(), Some("314"));
        assert_eq!(context.repository.url, None);
    }

    #[test]
    fn a_tag_push_reports_the_tag_and_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/codebuild-tag.env"));
        assert_eq!(context.git_tag.as_deref(), Some("v3.1.0"));
        assert_eq!(context.branch, None);
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some(PUSHED));
        assert_eq!(context.event.as_deref(), Some("PUSH"));
    }

    #[test]
    fn a_webhook_pull_request_reads_the_trigger_and_the_head_ref() {
        let context = fixture(include_str!("../../tests/fixtures/ci/codebuild-webhook-pr.env"));
        assert_eq!(context.pr, Some(42));
        assert_eq!(context.branch.as_deref(), Some("feature/payments"));
        assert_eq!(context.sha.as_deref(), Some("b6589fc6ab0dc82cf12099d1c2d40ab994e8410c"));
        assert_eq!(context.event.as_deref(), Some("PULL_REQUEST_UPDATED"));
        assert_eq!(context.git_tag, None);
    }

    #[test]
    fn a_webhook_push_reads_the_head_ref_and_the_repository() {
        let context = fixture(include_str!("../../tests/fixtures/ci/codebuild-webhook-push.env"));
        assert_eq!(context.branch.as_deref(), Some("release/2026.11"));
        assert_eq!(context.sha.as_deref(), Some(PUSHED));
        assert_eq!(context.event.as_deref(), Some("PUSH"));
        assert_eq!(context.run.as_deref(), Some("314"));
        assert_eq!((context.git_tag, context.pr), (None, None));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/octo-org/app"));
        assert_eq!(context.repository.name.as_deref(), Some("app"));
    }

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-codebuild-push.env"));
        assert_eq!(context.system, CiSystem::Codebuild);
        assert_eq!(context.branch.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some("1234000000000000000000000000000000000000"));
        assert_eq!((context.git_tag, context.pr), (None, None));
        assert_eq!((context.event, context.run), (None, None));
    }
}
