//! Bamboo, detected by `bamboo_agentId` (`docs/ci-variables.md` §1). Reads the first plan repository's
//! `bamboo_planRepository_1_revision`, `bamboo_planRepository_1_branchName` and `bamboo_planRepository_1_repositoryUrl`
//! (or their unnumbered forms), `bamboo_buildNumber`, and for a pull request `bamboo_repository_pr_key`,
//! `bamboo_repository_pr_sourceBranch` and `bamboo_repository_pr_targetBranch`. `docs/ci-variables.md` §3 and §4.5 list
//! these variables with Atlassian's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::{first, owned, parse_pr, repository_from_clone_url, set_branch};

pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Bamboo);
    context.run = owned(var(env, "bamboo_buildNumber"));
    context.sha = owned(first(env, &["bamboo_planRepository_1_revision", "bamboo_planRepository_revision"]));
    context.pr = var(env, "bamboo_repository_pr_key").and_then(parse_pr);
    context.repository = repository_from_clone_url(first(
        env,
        &["bamboo_planRepository_1_repositoryUrl", "bamboo_planRepository_repositoryUrl"],
    ));
    set_branch(
        &mut context,
        first(env, &["bamboo_planRepository_1_branchName", "bamboo_planRepository_branchName"]),
        var(env, "bamboo_repository_pr_sourceBranch"),
        var(env, "bamboo_repository_pr_targetBranch"),
    );
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn envci_push() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-bamboo-push.env"));
        assert_eq!(context.system, CiSystem::Bamboo);
        assert_eq!(context.branch.as_deref(), Some("master"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!((context.pr, context.git_tag, context.base_ref), (None, None, None));
    }
}
