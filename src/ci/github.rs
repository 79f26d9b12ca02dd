//! GitHub Actions, detected by `GITHUB_ACTIONS=true` (`docs/ci-variables.md` §1). Reads `GITHUB_EVENT_NAME`,
//! `GITHUB_SHA`, `GITHUB_RUN_NUMBER`, `GITHUB_REF`, `GITHUB_REF_TYPE`, `GITHUB_REF_NAME`, `GITHUB_HEAD_REF`,
//! `GITHUB_REPOSITORY` and `GITHUB_SERVER_URL`, and the event payload `GITHUB_EVENT_PATH` names: the `repository`
//! object (default branch, name, description, web page, licence), a pull request's number, head branch, head commit and
//! base branch, a pushed tag's `base_ref`, and the commit's timestamp. A pull request event without its payload is
//! refused rather than tagged with GitHub's merge commit. `docs/ci-variables.md` §3 and §4.1 list these variables with
//! GitHub's documentation.

use std::path::Path;

use super::context::{CiContext, CiSystem, EnvMap, RepositoryFacts, Workspace, var};
use super::helpers::{json_pr, owned, pr_from_ref, strip_ref};
use crate::bail_input;

pub(super) fn detect(env: &EnvMap, workspace: &dyn Workspace) -> anyhow::Result<CiContext> {
    let mut context = CiContext::new(CiSystem::GithubActions);
    let event_name = var(env, "GITHUB_EVENT_NAME").unwrap_or("");
    context.event = owned(var(env, "GITHUB_EVENT_NAME"));
    context.sha = owned(var(env, "GITHUB_SHA"));
    context.run = owned(var(env, "GITHUB_RUN_NUMBER"));
    let is_pr_event = matches!(event_name, "pull_request" | "pull_request_target");
    let payload = match var(env, "GITHUB_EVENT_PATH") {
        Some(path) => Some(read_event(workspace, path)?),
        None if is_pr_event => {
            bail_input!(
                "GITHUB_EVENT_PATH is not set for a '{event_name}' event: the event payload is needed for the pull request's head commit"
            )
        }
        None => None,
    };
    let payload_str = |pointer: &str| payload.as_ref().and_then(|p| p.pointer(pointer)).and_then(|v| v.as_str());
    context.default_branch = payload_str("/repository/default_branch").map(str::to_string);
    context.commit_date = commit_date(payload.as_ref(), context.sha.as_deref());
    let server_url = var(env, "GITHUB_SERVER_URL").unwrap_or("https://github.com");
    context.repository = RepositoryFacts {
        name: payload_str("/repository/name").map(str::to_string),
        description: payload_str("/repository/description").map(str::to_string),
        url: payload_str("/repository/html_url")
            .map(str::to_string)
            .or_else(|| var(env, "GITHUB_REPOSITORY").map(|repository| format!("{server_url}/{repository}"))),
        license: payload_str("/repository/license/spdx_id").map(str::to_string),
    };
    if is_pr_event {
        let pull = payload.as_ref().and_then(|p| p.get("pull_request"));
        let Some(pull) = pull.filter(|p| p.is_object()) else {
            bail_input!("the '{event_name}' event payload has no pull_request object")
        };
        context.pr = pull.get("number").and_then(json_pr).or_else(|| var(env, "GITHUB_REF").and_then(pr_from_ref));
        context.branch =
            owned(var(env, "GITHUB_HEAD_REF")).or_else(|| payload_str("/pull_request/head/ref").map(str::to_string));
        // GitHub builds the merge commit; the image is of the PR's code, so tag the head commit users can find.
        if let Some(head) = payload_str("/pull_request/head/sha") {
            context.sha = Some(head.to_string());
        }
        context.base_ref = payload_str("/pull_request/base/ref").map(|base| strip_ref(base).to_string());
        return Ok(context);
    }
    match (var(env, "GITHUB_REF_TYPE"), var(env, "GITHUB_REF_NAME")) {
        (Some("tag"), Some(name)) => context.git_tag = Some(name.to_string()),
        (Some("branch"), Some(name)) => context.branch = Some(name.to_string()),
        _ => match var(env, "GITHUB_REF") {
            Some(reference) if reference.starts_with("refs/tags/") => {
                context.git_tag = owned(reference.strip_prefix("refs/tags/"))
            }
            Some(reference) if reference.starts_with("refs/heads/") => {
                context.branch = Some(strip_ref(reference).into())
            }
            Some(reference) if reference.starts_with("refs/") => context.pr = pr_from_ref(reference),
            // A bare name is a branch, as env-ci's parseBranch reads it.
            Some(reference) => context.branch = Some(reference.to_string()),
            None => {}
        },
    }
    if context.git_tag.is_some() {
        context.base_ref = payload_str("/base_ref").map(|base| strip_ref(base).to_string());
    }
    Ok(context)
}

/// The date of the commit being built, from a push payload: its entry in `commits`, else `head_commit`.
fn commit_date(payload: Option<&serde_json::Value>, sha: Option<&str>) -> Option<String> {
    let payload = payload?;
    let timestamp = |commit: &serde_json::Value| commit.get("timestamp").and_then(|t| t.as_str()).map(str::to_string);
    let listed = payload.get("commits").and_then(|c| c.as_array()).and_then(|commits| {
        commits.iter().find(|commit| sha.is_some() && commit.get("id").and_then(|id| id.as_str()) == sha)
    });
    listed.and_then(timestamp).or_else(|| payload.get("head_commit").and_then(timestamp))
}

fn read_event(workspace: &dyn Workspace, path: &str) -> anyhow::Result<serde_json::Value> {
    let text = workspace.read_file(Path::new(path)).map_err(|error| {
        crate::error::bad_input(format!("cannot read the GitHub event payload '{path}' (GITHUB_EVENT_PATH): {error}"))
    })?;
    serde_json::from_str(&text).map_err(|error| {
        crate::error::bad_input(format!("the GitHub event payload '{path}' (GITHUB_EVENT_PATH) is not JSON: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::super::Overrides;
    use super::super::testing::{Bare, env_of, fixture};
    use super::*;

    /// env-ci's GitHub commit, padded to 40 hex.
    const ENVCI_SHA: &str = "1234000000000000000000000000000000000000";
    /// The commit the `github-*` fixtures build (GITHUB_SHA of a push), and a pull request's head commit.
    const PUSHED: &str = "3f786850e387550fdab836ed7e6dc881de23001b";
    const HEAD: &str = "b6589fc6ab0dc82cf12099d1c2d40ab994e8410c";

    #[test]
    fn a_github_pull_request_without_its_payload_is_refused_where_env_ci_guesses() {
        // env-ci's "PR - with missing "pull_request" in event.json file" reports no branch and no number; a PR
        // image without its head commit would be tagged with GitHub's merge commit, so ecr-ship refuses.
        let env = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_REF", "refs/pull/10/merge"),
            ("GITHUB_SHA", "1234000000000000000000000000000000000000"),
            ("GITHUB_EVENT_PATH", "event.json"),
        ]);
        let error = crate::ci::detect(&env, &Bare("{}"), &Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("no pull_request object"), "{error}");
    }

    #[test]
    fn envci_pr_takes_the_number_and_base_from_the_payload() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-github-pr.env"));
        assert_eq!(context.system, CiSystem::GithubActions);
        assert_eq!(context.event.as_deref(), Some("pull_request"));
        assert_eq!(context.pr, Some(10), "the payload's number is the string \"10\"");
        // The payload names no head: the commit stays GITHUB_SHA and there is no branch.
        assert_eq!(context.sha.as_deref(), Some(ENVCI_SHA));
        assert_eq!(context.branch, None);
        assert_eq!(context.base_ref.as_deref(), Some("master"), "refs/heads/ is stripped");
        assert_eq!(context.git_tag, None);
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/owner/repo"));
    }

    #[test]
    fn envci_pr_without_a_base_has_no_base_ref() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-github-pr-no-base.env"));
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.base_ref, None);
        assert_eq!(context.branch, None);
        assert_eq!(context.sha.as_deref(), Some(ENVCI_SHA));
    }

    #[test]
    fn envci_pr_with_a_short_base_keeps_it() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-github-pr-short-base.env"));
        assert_eq!(context.pr, Some(10));
        assert_eq!(context.base_ref.as_deref(), Some("master"));
    }

    #[test]
    fn envci_pull_request_target_is_a_pull_request_whatever_github_ref_says() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-github-pr-target.env"));
        assert_eq!(context.event.as_deref(), Some("pull_request_target"));
        assert_eq!(context.pr, Some(10));
        // GITHUB_REF is the base branch here, not the branch being built.
        assert_eq!(context.branch, None);
        assert_eq!(context.base_ref.as_deref(), Some("master"));
    }

    #[test]
    fn envci_push_takes_the_branch_from_github_ref() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-github-push.env"));
        assert_eq!(context.system, CiSystem::GithubActions);
        assert_eq!(context.branch.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(ENVCI_SHA));
        assert_eq!((context.git_tag, context.pr), (None, None));
        // No GITHUB_EVENT_PATH: nothing from a payload.
        assert_eq!((context.event, context.default_branch, context.run), (None, None, None));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/owner/repo"));
    }

    #[test]
    fn envci_push_with_a_bare_ref_names_a_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-github-push-short-branch.env"));
        assert_eq!(context.branch.as_deref(), Some("master"));
        assert_eq!(context.git_tag, None);
    }

    #[test]
    fn envci_push_with_an_empty_ref_names_no_branch_tag_or_pull_request() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-github-push-empty-ref.env"));
        assert_eq!((context.branch, context.git_tag, context.pr), (None, None, None));
        assert_eq!(context.sha.as_deref(), Some(ENVCI_SHA));
    }

    #[test]
    fn a_push_reads_the_ref_name_and_the_payload() {
        let context = fixture(include_str!("../../tests/fixtures/ci/github-push-main.env"));
        assert_eq!(context.system, CiSystem::GithubActions);
        assert_eq!(context.branch.as_deref(), Some("main"));
        assert_eq!(context.sha.as_deref(), Some(PUSHED));
        assert_eq!(context.run.as_deref(), Some("57"));
        assert_eq!(context.event.as_deref(), Some("push"));
        assert_eq!(context.default_branch.as_deref(), Some("main"));
        assert_eq!((context.git_tag, context.pr, context.base_ref), (None, None, None));
        assert_eq!(context.repository.name.as_deref(), Some("app"));
        assert_eq!(context.repository.url.as_deref(), Some("https://github.com/octo-org/app"));
        // The payload lists no commits and no head_commit.
        assert_eq!(context.commit_date, None);
    }

    #[test]
    fn a_tag_push_reports_the_tag_and_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/github-tag.env"));
        assert_eq!(context.git_tag.as_deref(), Some("v1.2.3"));
        assert_eq!(context.branch, None);
        assert_eq!(context.pr, None);
        assert_eq!(context.sha.as_deref(), Some(PUSHED));
        // The payload has no base_ref.
        assert_eq!(context.base_ref, None);
    }

    #[test]
    fn a_long_branch_is_kept_whole() {
        let context = fixture(include_str!("../../tests/fixtures/ci/github-long-branch.env"));
        let expected = format!("feature/{}", "very-long-branch-name-".repeat(11));
        assert_eq!(context.branch.as_deref(), Some(expected.as_str()));
        assert_eq!(context.sha.as_deref(), Some(PUSHED));
    }

    #[test]
    fn a_merge_queue_build_is_a_build_of_its_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/github-merge-queue.env"));
        assert_eq!(context.event.as_deref(), Some("merge_group"));
        assert_eq!(
            context.branch.as_deref(),
            Some("gh-readonly-queue/main/pr-12-b6589fc6ab0dc82cf12099d1c2d40ab994e8410c")
        );
        assert_eq!(context.pr, None, "a merge group is not a pull_request event");
        assert_eq!(context.sha.as_deref(), Some(PUSHED));
    }

    #[test]
    fn a_pull_request_is_tagged_with_its_head_commit_not_the_merge() {
        let context = fixture(include_str!("../../tests/fixtures/ci/github-pull-request.env"));
        assert_eq!(context.pr, Some(12));
        assert_eq!(context.branch.as_deref(), Some("Feature/Login-Form"));
        assert_eq!(context.sha.as_deref(), Some(HEAD), "not GITHUB_SHA, the merge commit");
        assert_eq!(context.base_ref.as_deref(), Some("main"));
        assert_eq!(context.default_branch.as_deref(), Some("main"));
        assert_eq!(context.run.as_deref(), Some("57"));
        assert_eq!(context.git_tag, None);
    }

    #[test]
    fn the_pull_request_template_fixture_has_the_facts_its_template_uses() {
        // `--tag {branch}-{sha:7} --tag pr-{pr}-{run} --tag {git_tag}`: branch, head commit, number and run.
        let context = fixture(include_str!("../../tests/fixtures/ci/github-pull-request-template.env"));
        assert_eq!(context.branch.as_deref(), Some("Feature/Login-Form"));
        assert_eq!(context.sha.as_deref(), Some(HEAD));
        assert_eq!(context.pr, Some(12));
        assert_eq!(context.run.as_deref(), Some("57"));
        assert_eq!(context.git_tag, None);
    }

    #[test]
    fn pull_request_target_reads_the_pull_request_from_the_payload() {
        let context = fixture(include_str!("../../tests/fixtures/ci/github-pull-request-target.env"));
        assert_eq!(context.event.as_deref(), Some("pull_request_target"));
        assert_eq!(context.pr, Some(12));
        assert_eq!(context.branch.as_deref(), Some("Feature/Login-Form"));
        assert_eq!(context.sha.as_deref(), Some(HEAD));
        assert_eq!(context.base_ref.as_deref(), Some("main"));
    }

    #[test]
    fn a_unicode_branch_is_kept_as_it_is() {
        let context = fixture(include_str!("../../tests/fixtures/ci/github-unicode-branch.env"));
        assert_eq!(context.branch.as_deref(), Some("feature/über-straße/ñandú"));
    }
}
