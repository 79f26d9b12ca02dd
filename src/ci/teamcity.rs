//! TeamCity, detected by `TEAMCITY_VERSION` (`docs/ci-variables.md` §1). Reads `BUILD_VCS_NUMBER` and `BUILD_NUMBER`;
//! the branch is not in TeamCity's environment (see [`detect`]). `docs/ci-variables.md` §3 and §4.19 list these
//! variables with JetBrains's documentation.

use super::context::{CiContext, CiSystem, EnvMap, var};
use super::helpers::owned;

/// TeamCity. env-ci reads the branch (`teamcity.build.branch`) from the build properties file named by
/// `TEAMCITY_BUILD_PROPERTIES_FILE`; detection here reads the environment alone, which has the commit and build
/// number but no branch: git fills it when HEAD is on one, else pass `--branch %teamcity.build.branch%`.
pub(super) fn detect(env: &EnvMap) -> CiContext {
    let mut context = CiContext::new(CiSystem::Teamcity);
    context.run = owned(var(env, "BUILD_NUMBER"));
    context.sha = owned(var(env, "BUILD_VCS_NUMBER"));
    context
}

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;

    const SHA: &str = "5678000000000000000000000000000000000000";

    #[test]
    fn envci_push_has_the_commit_and_run_but_no_branch() {
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-teamcity-push.env"));
        assert_eq!(context.system, CiSystem::Teamcity);
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!((context.branch, context.pr, context.git_tag), (None, None, None));
    }

    #[test]
    fn envci_push_with_a_properties_file_does_not_read_it() {
        // env-ci reads teamcity.build.branch from this file; detection reads the environment alone.
        let context = fixture(include_str!("../../tests/fixtures/ci/envci-teamcity-push-properties-file.env"));
        assert_eq!(context.sha.as_deref(), Some(SHA));
        assert_eq!(context.run.as_deref(), Some("91011"));
        assert_eq!(context.branch, None);
    }
}
