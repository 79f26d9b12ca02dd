//! CI context detection: which CI system runs us and what it says about branch, commit, git tag, pull request and
//! run number.
//!
//! Detection is a pure function of an environment map plus a [`Workspace`] for the two things that are not in the
//! environment: GitHub's event payload file and the plain-git fallback. Nothing here reads the process environment,
//! so every CI system is tested against fixtures of real environment dumps (`tests/fixtures/ci`). The order follows
//! `docs/ci-variables.md` §1 (detection order): GitHub Actions first (CodeBuild can host Actions runners), CodeBuild
//! before Jenkins (the CodeBuild Jenkins plugin runs inside CodeBuild), then semantic-release/env-ci's order (the
//! reference for what each system's variables mean), plain git last.
//!
//! Where ecr-ship and env-ci differ, ecr-ship's conventions hold: on a pull request `branch` is the source (head)
//! branch and `sha` the head commit (env-ci's `branch` is the target, here `base_ref`); a tag build reports the git
//! tag and no branch; a commit id is the full 40 hex.
//!
//! Each system reads its variables in a module of its own, one file per system as env-ci keeps one per service,
//! over the shared parsing in `helpers`; `docs/ci-variables.md` lists every variable each one reads.

mod appveyor;
mod azure;
mod bamboo;
mod bitbucket;
mod bitrise;
mod buddy;
mod buildkite;
mod circleci;
mod cirrus;
mod codebuild;
mod codefresh;
mod codeship;
mod context;
mod drone;
mod github;
mod gitlab;
mod helpers;
mod jenkins;
mod screwdriver;
mod semaphore;
mod teamcity;
mod travis;
mod vela;
mod woodpecker;

use crate::bail_input;
pub use context::{
    CiContext, CiSystem, EnvMap, LocalWorkspace, ProcessEnv, READ_VARIABLES, RepositoryFacts, Workspace, escaped_bytes,
    in_github_actions, process_env, refuse_not_utf8, var,
};
use helpers::{is_hex_sha, parse_pr, strip_ref};

/// Explicit values from `--branch/--sha/--git-tag/--pr`; they win over detection.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub branch: Option<String>,
    pub sha: Option<String>,
    pub git_tag: Option<String>,
    pub pr: Option<String>,
    pub default_branch: Option<String>,
}

/// Detects the CI context, applies the overrides, and checks the commit sha.
pub fn detect(env: &EnvMap, workspace: &dyn Workspace, overrides: &Overrides) -> anyhow::Result<CiContext> {
    let is = |key: &str| var(env, key).is_some();
    let is_true = |key: &str| var(env, key).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut context = if in_github_actions(env) {
        github::detect(env, workspace)?
    } else if is("CODEBUILD_BUILD_ID") {
        codebuild::detect(env)
    } else if is("APPVEYOR") {
        appveyor::detect(env)
    } else if is_true("TF_BUILD") || is("BUILD_BUILDURI") {
        azure::detect(env)
    } else if is("bamboo_agentId") {
        bamboo::detect(env)
    } else if is("BITBUCKET_BUILD_NUMBER") {
        bitbucket::detect(env)
    } else if is("BITRISE_IO") {
        bitrise::detect(env)
    } else if is("BUDDY_WORKSPACE_ID") {
        buddy::detect(env)
    } else if is_true("BUILDKITE") {
        buildkite::detect(env)
    } else if is_true("CIRCLECI") {
        circleci::detect(env)
    } else if is("CIRRUS_CI") {
        cirrus::detect(env)
    } else if is("CF_BUILD_ID") {
        codefresh::detect(env)
    } else if var(env, "CI_NAME") == Some("codeship") {
        codeship::detect(env)
    } else if is("DRONE") {
        drone::detect(env)
    } else if is("GITLAB_CI") {
        gitlab::detect(env)
    } else if is("JENKINS_URL") {
        jenkins::detect(env)
    } else if is("SCREWDRIVER") {
        screwdriver::detect(env)
    } else if is("SEMAPHORE") {
        semaphore::detect(env)
    } else if is("TEAMCITY_VERSION") {
        teamcity::detect(env)
    } else if is("TRAVIS") {
        travis::detect(env)
    } else if is("VELA") {
        vela::detect(env)
    } else if var(env, "CI") == Some("woodpecker") {
        woodpecker::detect(env)
    } else {
        CiContext::new(CiSystem::Unknown)
    };
    // Overrides first, so git is asked only for what neither the CI system nor the user said.
    apply_overrides(&mut context, overrides)?;
    fill_from_git(&mut context, workspace);
    if let Some(sha) = &context.sha {
        context.sha = Some(normalize_sha(sha, "the detected commit")?);
    }
    Ok(context)
}

/// Checks a commit id: 40 hex characters (SHA-1) or 64 (SHA-256 repositories); returns it in lower case.
pub fn normalize_sha(sha: &str, source: &str) -> anyhow::Result<String> {
    let sha = sha.trim();
    if !is_hex_sha(sha) {
        bail_input!("invalid commit sha '{sha}' from {source}: expected the full 40 hexadecimal characters");
    }
    Ok(sha.to_ascii_lowercase())
}

fn apply_overrides(context: &mut CiContext, overrides: &Overrides) -> anyhow::Result<()> {
    if let Some(branch) = &overrides.branch {
        context.branch = Some(strip_ref(branch).to_string());
        context.given.push("branch");
    }
    if let Some(sha) = &overrides.sha {
        context.sha = Some(normalize_sha(sha, "--sha")?);
        context.given.push("commit");
    }
    if let Some(tag) = &overrides.git_tag {
        context.git_tag = Some(tag.strip_prefix("refs/tags/").unwrap_or(tag).to_string());
        context.given.push("git tag");
    }
    if let Some(pr) = &overrides.pr {
        context.given.push("pull request");
        context.pr = Some(parse_pr(pr).ok_or_else(|| {
            crate::error::bad_input(format!(
                "invalid pull request number '{pr}' from --pr: expected a positive integer"
            ))
        })?);
    }
    if let Some(default_branch) = &overrides.default_branch {
        context.default_branch = Some(default_branch.clone());
        context.given.push("default branch");
    }
    Ok(())
}

/// Fills what the CI variables left open from plain git: the commit always, the branch only when HEAD is on one
/// (CodeBuild, Jenkins and GitHub PR checkouts are detached; guessing from remote branches is ambiguous).
fn fill_from_git(context: &mut CiContext, workspace: &dyn Workspace) {
    let needs_sha = context.sha.is_none();
    let needs_ref = context.branch.is_none() && context.git_tag.is_none() && context.pr.is_none();
    if !needs_sha && !needs_ref {
        return;
    }
    let Some(head) = workspace.git(&["rev-parse", "HEAD"]) else { return };
    if context.system == CiSystem::Unknown {
        context.system = CiSystem::Git;
    }
    if needs_sha {
        context.sha = Some(head);
    }
    if needs_ref {
        context.branch = workspace.git(&["symbolic-ref", "-q", "--short", "HEAD"]);
        if context.branch.is_none() {
            context.git_tag = workspace.git(&["describe", "--exact-match", "--tags", "HEAD"]);
        }
    }
}

/// Loads an environment dump in `KEY=VALUE` lines (blank lines and `#` comments skipped), as the fixtures are kept.
/// Only the tests use it: the unit tests here and the integration tests (which enable `test-env`).
#[cfg(any(test, feature = "test-env"))]
pub fn parse_env_dump(text: &str) -> anyhow::Result<EnvMap> {
    use anyhow::Context as _;

    let mut env = EnvMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').with_context(|| format!("line {}: expected KEY=VALUE", number + 1))?;
        env.insert(key.to_string(), value.to_string());
    }
    Ok(env)
}

/// What the systems' tests share: an environment from pairs, a workspace that has nothing, and the fixtures.
#[cfg(test)]
mod testing {
    use std::path::Path;

    use super::{CiContext, EnvMap, Overrides, Workspace, detect, parse_env_dump};

    pub(super) fn env_of(pairs: &[(&str, &str)]) -> EnvMap {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// No files and no git: only the environment speaks.
    pub(super) struct Bare(pub(super) &'static str);

    impl Workspace for Bare {
        fn read_file(&self, _path: &Path) -> std::io::Result<String> {
            Ok(self.0.to_string())
        }

        fn git(&self, _args: &[&str]) -> Option<String> {
            None
        }
    }

    /// Where the fixtures are; `@fixtures` in a fixture's values stands for it, as in `tests/it/tags.rs`.
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ci");

    /// A workspace outside any git repository whose files are the fixtures (GitHub's event payloads), so only the
    /// fixture's variables speak.
    struct FixtureDir;

    impl Workspace for FixtureDir {
        fn read_file(&self, path: &Path) -> std::io::Result<String> {
            std::fs::read_to_string(Path::new(FIXTURES).join(path))
        }

        fn git(&self, _args: &[&str]) -> Option<String> {
            None
        }
    }

    /// The fields a `#! context:` header may name: [`CiContext`]'s serialized ones. A key outside this list is a
    /// typo that would otherwise compare `null` with `null` and pass.
    const CONTEXT_KEYS: &[&str] =
        &["system", "branch", "sha", "git_tag", "pr", "run", "default_branch", "event", "base_ref", "commit_date"];

    /// Detects the context of a fixture (`include_str!` of a `tests/fixtures/ci/*.env`) with no flags and no git,
    /// and checks every key of its `#! context: {json}` header against the serialized context, as
    /// `tests/it/tags.rs` checks the binary's `--json` output (a key the context leaves out is `null`).
    pub(super) fn fixture(text: &str) -> CiContext {
        let mut env = parse_env_dump(text).expect("the fixture is an environment dump");
        for value in env.values_mut() {
            *value = value.replace("@fixtures", FIXTURES);
        }
        let context = detect(&env, &FixtureDir, &Overrides::default()).expect("the fixture is detected");
        let serialized = serde_json::to_value(&context).expect("the context serializes");
        let headers: Vec<&str> = text.lines().filter_map(|line| line.strip_prefix("#! context:")).collect();
        assert!(headers.len() <= 1, "more than one context header: {headers:?}");
        if let Some(header) = headers.first() {
            let expected: serde_json::Value = serde_json::from_str(header.trim()).expect("the context header is JSON");
            let expected = expected.as_object().expect("the context header is an object");
            assert!(!expected.is_empty(), "an empty context header checks nothing");
            for (key, value) in expected {
                assert!(CONTEXT_KEYS.contains(&key.as_str()), "the context header names no field: {key}");
                assert_eq!(serialized.get(key).unwrap_or(&serde_json::Value::Null), value, "context.{key}");
            }
        }
        context
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Bare, env_of};
    use super::*;

    #[test]
    fn each_system_is_detected_by_its_marker_and_the_first_in_order_wins() {
        let cases: &[(&[(&str, &str)], CiSystem)] = &[
            (&[("GITHUB_ACTIONS", "true"), ("CODEBUILD_BUILD_ID", "b:1")], CiSystem::GithubActions),
            (&[("CODEBUILD_BUILD_ID", "b:1"), ("JENKINS_URL", "https://j/")], CiSystem::Codebuild),
            (&[("APPVEYOR", "True")], CiSystem::Appveyor),
            (&[("TF_BUILD", "True")], CiSystem::AzurePipelines),
            (&[("BUILD_BUILDURI", "vstfs:///Build/Build/1")], CiSystem::AzurePipelines),
            (&[("bamboo_agentId", "131073")], CiSystem::Bamboo),
            (&[("BITBUCKET_BUILD_NUMBER", "1")], CiSystem::Bitbucket),
            (&[("BITRISE_IO", "true")], CiSystem::Bitrise),
            (&[("BUDDY_WORKSPACE_ID", "111")], CiSystem::Buddy),
            (&[("BUILDKITE", "true")], CiSystem::Buildkite),
            (&[("CIRCLECI", "true")], CiSystem::Circleci),
            (&[("CIRRUS_CI", "true")], CiSystem::Cirrus),
            (&[("CF_BUILD_ID", "5c1")], CiSystem::Codefresh),
            (&[("CI_NAME", "codeship")], CiSystem::Codeship),
            (&[("DRONE", "true"), ("CI", "woodpecker")], CiSystem::Drone),
            (&[("GITLAB_CI", "true"), ("JENKINS_URL", "https://j/")], CiSystem::Gitlab),
            (&[("JENKINS_URL", "https://j/")], CiSystem::Jenkins),
            (&[("SCREWDRIVER", "true")], CiSystem::Screwdriver),
            (&[("SEMAPHORE", "true")], CiSystem::Semaphore),
            (&[("TEAMCITY_VERSION", "2024.1")], CiSystem::Teamcity),
            (&[("TRAVIS", "true")], CiSystem::Travis),
            (&[("VELA", "true")], CiSystem::Vela),
            (&[("CI", "woodpecker")], CiSystem::Woodpecker),
            (&[("CI", "true")], CiSystem::Unknown),
        ];
        for (pairs, system) in cases {
            let context = detect(&env_of(pairs), &Bare("{}"), &Overrides::default()).unwrap();
            assert_eq!(context.system, *system, "{pairs:?}");
        }
    }

    #[test]
    fn every_variable_the_code_reads_is_refused_when_not_utf8() {
        // The variables read through the map in src/ (tests left out), by the calls that read them.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let call = regex_lite::Regex::new(
            r#"(?:\bvar|\bis|\bis_true|pr_unless_false|env\.get|github_file)\((?:env, )?"([A-Za-z_][A-Za-z0-9_]*)""#,
        )
        .unwrap();
        let first = regex_lite::Regex::new(r#"first\(env, &\[([^\]]*)\]"#).unwrap();
        let quoted = regex_lite::Regex::new(r#""([A-Za-z_][A-Za-z0-9_]*)""#).unwrap();
        // Paths of the machine may be any bytes; ECR_SHIP_* are clap's to read (and cli::not_utf8's to name).
        let machine = [
            "PATH",
            "HOME",
            "TMPDIR",
            "AWS_CONFIG_FILE",
            "DOCKER_CONFIG",
            "REGISTRY_AUTH_FILE",
            "USERPROFILE",
            "XDG_RUNTIME_DIR",
            "XDG_CACHE_HOME",
        ];
        let mut read = std::collections::BTreeSet::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = &text[..text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len())];
                read.extend(call.captures_iter(code).map(|c| c[1].to_string()));
                for list in first.captures_iter(code) {
                    read.extend(quoted.captures_iter(&list[1]).map(|c| c[1].to_string()));
                }
            }
        }
        assert!(read.len() > 150, "the scan found too few reads: {read:?}");
        let missing: Vec<&String> = read
            .iter()
            .filter(|k| !READ_VARIABLES.contains(&k.as_str()) && !machine.contains(&k.as_str()))
            .filter(|k| !k.starts_with("ECR_SHIP_"))
            .collect();
        assert!(missing.is_empty(), "add to READ_VARIABLES (src/ci/context.rs): {missing:?}");
        assert!(READ_VARIABLES.windows(2).all(|w| w[0] < w[1]), "READ_VARIABLES is sorted, each once");
    }

    #[test]
    fn a_variable_that_is_not_utf8_is_refused_only_when_read() {
        let shown = escaped_bytes(b"ma\xffin\n");
        assert_eq!(shown, r"ma\xffin\n");
        for key in ["GITHUB_REF_NAME", "GITHUB_REF", "GITHUB_SHA", "SOURCE_DATE_EPOCH", "CI_COMMIT_BRANCH"] {
            let error = refuse_not_utf8(&[("OTHER".into(), "x".into()), (key.into(), shown.clone())]).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT);
            let text = error.to_string();
            assert!(text.contains(key) && text.contains(r"'ma\xffin\n'") && !text.contains('\n'), "{text}");
        }
        assert!(refuse_not_utf8(&[("LANG_OF_MY_OWN".into(), r"\xff".into()), ("HOME".into(), "x".into())]).is_ok());
    }

    #[test]
    fn the_origin_names_the_system_and_what_was_given() {
        let cases: &[(CiSystem, &[&'static str], &str)] = &[
            (CiSystem::GithubActions, &[], "GitHub Actions build"),
            (CiSystem::Git, &[], "git build"),
            (CiSystem::Unknown, &["branch", "commit"], "git build (branch and commit given)"),
            (CiSystem::Unknown, &["commit"], "git build (commit given)"),
            (CiSystem::Git, &["branch", "commit", "git tag"], "git build (branch, commit and git tag given)"),
            (CiSystem::Jenkins, &["pull request"], "Jenkins build (pull request given)"),
            (CiSystem::Unknown, &[], "build outside CI and git (no --branch or --sha given)"),
        ];
        for (system, given, expected) in cases {
            let context = CiContext { given: given.to_vec(), ..CiContext::new(*system) };
            assert_eq!(context.origin(), *expected, "{system:?} {given:?}");
        }
    }
}
