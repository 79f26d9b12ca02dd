//! The ECR lifecycle policy that fits the tag rules (`ecr-ship policy --lifecycle`): pull-request tags expire after
//! some days, the last N commit tags are kept, untagged images expire after some days, and the default branch's and
//! the release tags are never expired.
//!
//! The tags are not guessed from the rules' text: three sample builds (a pull request, the default branch, a release
//! `vX.Y.Z`) are planned by [`plan_noting`] itself, with marker values for the commit, the pull request number, the
//! run and the version, and each tag they get becomes an ECR tag pattern by turning the markers into `*`. A tag
//! holding the pull request number is a pull-request tag; one holding the commit, the run or the date is a commit
//! tag; a tag of the default branch's or the release build without either is protected.
//!
//! ECR has no "keep" action and `tagPatternList` cannot exclude, so protection is by priority: ECR never expires
//! an image that matches the tag selection of a rule ranked before the expiring one (docs/ecr-behaviour.md §17).
//! The policy therefore opens with one rule per protected pattern, which expires only beyond [`KEEP_COUNT`]
//! images, then the pull-request rules, then the commit rules, then the untagged rule. An image tagged both `pr-7`
//! and `main` is kept by the `main` rule. Where a pattern would select the wrong images (a pull-request pattern
//! that also matches the default branch's commit tags, a protected one that matches pull-request tags, more than
//! four wildcards), the rules are said to be inexpressible (bad input) rather than approximated. Pure.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{TagRules, plan_noting, utc_date};
use crate::bail_input;
use crate::ci::CiContext;

pub const DEFAULT_PR_DAYS: u32 = 14;
pub const DEFAULT_KEEP_COMMITS: u32 = 30;
pub const DEFAULT_UNTAGGED_DAYS: u32 = 7;
/// The count a protecting rule expires beyond: ECR's count rules need a number, and this one (the AWS CDK's own
/// example of a keep rule) is far above what a repository of releases holds.
pub const KEEP_COUNT: u32 = 9999;
/// The most wildcards ECR accepts in one tag pattern (docs/ecr-behaviour.md §17).
const MAX_WILDCARDS: usize = 4;

/// Marker values of the sample builds: none is a substring of another or of a plausible literal.
const SAMPLE_SHA: &str = "c0ffee0d15ea5e0fdeadbeefcafebabe0ddba11f";
const SAMPLE_PR: u64 = 987654;
const SAMPLE_RUN: &str = "135791";
/// A pull request's head branch is any name: in its tags it stands for `*`.
const SAMPLE_BRANCH: &str = "ecr-ship-sample-branch";
const SAMPLE_VERSION: [&str; 3] = ["271", "828", "182"];
/// The shortest commit prefix recognised in a tag (`{sha:N}` below this is indistinguishable from text).
const MIN_SHA_MARK: usize = 4;

/// What the policy expires, and what else it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleOptions {
    /// Pull-request images expire this many days after their push.
    pub pr_days: u32,
    /// The newest this many images of each commit pattern are kept.
    pub keep_commits: u32,
    /// Untagged images expire this many days after their push; `None`: no untagged rule.
    pub untagged_days: Option<u32>,
    /// More tag patterns never to expire (`--keep-tag`), checked against ECR's pattern rules.
    pub keep_tags: Vec<String>,
}

/// The policy document and what the user should know about it (tags it leaves alone, patterns it dropped).
#[derive(Debug, Clone)]
pub struct LifecyclePolicy {
    pub document: Value,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Build {
    PullRequest,
    DefaultBranch,
    Release,
}

impl Build {
    fn name(self) -> &'static str {
        match self {
            Build::PullRequest => "a pull request's build",
            Build::DefaultBranch => "the default branch's build",
            Build::Release => "a release build (git tag vX.Y.Z)",
        }
    }
}

/// A sample tag and the ECR pattern it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sample {
    build: Build,
    tag: String,
    pattern: String,
    pr: bool,
    commit: bool,
}

/// The lifecycle policy for the tags `rules` give, on the default branch of `context` (or `main`).
pub fn lifecycle_policy(
    context: &CiContext,
    rules: &TagRules,
    now: DateTime<Utc>,
    options: &LifecycleOptions,
) -> anyhow::Result<LifecyclePolicy> {
    let today = utc_date(now.timestamp());
    let mut samples = Vec::new();
    for build in [Build::PullRequest, Build::DefaultBranch, Build::Release] {
        // A build the rules make no tag for (a line that needs a git tag, say) adds nothing to the policy.
        let tags = plan_noting(&sample_context(context, rules, build), rules, now, &mut Vec::new()).unwrap_or_default();
        samples.extend(tags.iter().map(|tag| generalise(build, tag, &today)));
    }
    for sample in &samples {
        let wildcards = sample.pattern.matches('*').count();
        if wildcards > MAX_WILDCARDS {
            bail_input!(
                "the tag rules make tags ECR's lifecycle policy cannot express: {} gets '{}', whose pattern '{}' needs \
                 {wildcards} wildcards and ECR allows {MAX_WILDCARDS}; put fewer values into one tag",
                sample.build.name(),
                sample.tag,
                sample.pattern
            );
        }
    }
    let expiring: Vec<&Sample> = samples.iter().filter(|s| s.pr || s.commit).collect();
    let mut notes = Vec::new();
    let pr_patterns = unique(samples.iter().filter(|s| s.pr).map(|s| s.pattern.clone()));
    let commit_patterns = unique(samples.iter().filter(|s| s.commit && !s.pr).map(|s| s.pattern.clone()));
    for pattern in &pr_patterns {
        let kept_commit = samples.iter().find(|s| s.build != Build::PullRequest && s.commit && glob(pattern, &s.tag));
        if let Some(other) = kept_commit {
            bail_input!(
                "the tag rules make tags ECR's lifecycle policy cannot tell apart: the pull-request pattern \
                 '{pattern}' also matches the commit tags '{}' of {}, which would then expire with the pull \
                 requests; give pull-request tags a fixed prefix, such as pr-{{pr}}",
                other.pattern,
                other.build.name()
            );
        }
    }
    let mut protected: Vec<(String, String)> = Vec::new();
    for build in [Build::DefaultBranch, Build::Release] {
        let own: Vec<&Sample> = samples.iter().filter(|s| s.build == build && !s.pr && !s.commit).collect();
        let (kept, clashing): (Vec<&Sample>, Vec<&Sample>) =
            own.iter().partition(|sample| !expiring.iter().any(|e| glob(&sample.pattern, &e.tag)));
        protected.extend(kept.iter().map(|sample| (sample.pattern.clone(), protected_why(build))));
        for sample in &clashing {
            let Some(clash) = expiring.iter().find(|e| glob(&sample.pattern, &e.tag)) else { continue };
            if !kept.is_empty() {
                notes.push(format!(
                    "the tags '{}' of {} get no protecting rule of their own, since that pattern also matches the \
                     tags '{}', which expire; those images stay protected by '{}'",
                    sample.pattern,
                    build.name(),
                    clash.pattern,
                    kept.iter().map(|s| s.pattern.as_str()).collect::<Vec<_>>().join("', '")
                ));
            }
        }
        if !own.is_empty() && kept.is_empty() {
            bail_input!(
                "the tag rules make tags ECR's lifecycle policy cannot protect: no tag of {} ({}) has a pattern that \
                 leaves the pull-request and commit tags out; give it a tag with fixed text",
                build.name(),
                own.iter().map(|s| s.pattern.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
    }
    for pattern in &options.keep_tags {
        check_keep_tag(pattern)?;
        if let Some(clash) = expiring.iter().find(|e| glob(pattern, &e.tag)) {
            bail_input!(
                "invalid --keep-tag '{pattern}': it also matches the tags '{}' of {}, which the policy is to \
                 expire; give a pattern that leaves the pull-request and commit tags out",
                clash.pattern,
                clash.build.name()
            );
        }
        protected.push((pattern.clone(), "--keep-tag".to_string()));
    }
    for sample in samples.iter().filter(|s| s.build == Build::PullRequest && !s.pr && !s.commit) {
        notes.push(format!(
            "the lifecycle policy leaves the tags '{}' of {} alone: they hold neither the pull request number nor \
             the commit",
            sample.pattern,
            Build::PullRequest.name()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    protected.retain(|(pattern, _)| seen.insert(pattern.clone()));

    let mut rules_out = Vec::new();
    let mut priority = 0;
    let mut next = || {
        priority += 1;
        priority
    };
    for (pattern, why) in &protected {
        rules_out.push(rule(
            next(),
            &format!("ecr-ship: never expire {pattern} ({why})"),
            json!({"tagStatus": "tagged", "tagPatternList": [pattern], "countType": "imageCountMoreThan",
                   "countNumber": KEEP_COUNT}),
        ));
    }
    for pattern in &pr_patterns {
        rules_out.push(rule(
            next(),
            &format!("ecr-ship: expire pull-request images {pattern} after {} days", options.pr_days),
            json!({"tagStatus": "tagged", "tagPatternList": [pattern], "countType": "sinceImagePushed",
                   "countUnit": "days", "countNumber": options.pr_days}),
        ));
    }
    if !commit_patterns.is_empty() {
        // ECR's count sees every image the pattern selects, also those a higher rule protects or ages out.
        notes.push(format!(
            "the last {} commit images are counted over every build with a commit tag, pull requests' and releases' \
             included: older default-branch builds (rollback targets) go once {} newer commit images exist; raise \
             --keep-commits, or protect them with --keep-tag",
            options.keep_commits, options.keep_commits
        ));
    }
    for pattern in &commit_patterns {
        rules_out.push(rule(
            next(),
            &format!("ecr-ship: keep the last {} commit images {pattern}", options.keep_commits),
            json!({"tagStatus": "tagged", "tagPatternList": [pattern], "countType": "imageCountMoreThan",
                   "countNumber": options.keep_commits}),
        ));
    }
    if let Some(days) = options.untagged_days {
        notes.push(format!(
            "untagged images expire after {days} days, and a multi-arch index's per-platform manifests are untagged: \
             that ECR spares the children of a kept index is not documented, so --untagged-days 0 is the cautious \
             choice for multi-arch repositories"
        ));
        rules_out.push(rule(
            next(),
            &format!("ecr-ship: expire untagged images after {days} days"),
            json!({"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": days}),
        ));
    }
    if pr_patterns.is_empty() && commit_patterns.is_empty() && options.untagged_days.is_none() {
        bail_input!(
            "the lifecycle policy would expire nothing: the tag rules make no pull-request or commit tags and \
             --untagged-days is 0"
        );
    }
    Ok(LifecyclePolicy { document: json!({ "rules": rules_out }), notes })
}

fn protected_why(build: Build) -> String {
    match build {
        Build::DefaultBranch => "the default branch".into(),
        Build::Release => "releases".into(),
        Build::PullRequest => "pull requests".into(),
    }
}

fn rule(priority: u32, description: &str, selection: Value) -> Value {
    json!({"rulePriority": priority, "description": description, "selection": selection,
           "action": {"type": "expire"}})
}

fn unique(patterns: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for pattern in patterns {
        if !out.contains(&pattern) {
            out.push(pattern);
        }
    }
    out
}

/// The sample build's context: the detected one (its system, repository facts, default branch) with the markers.
fn sample_context(base: &CiContext, rules: &TagRules, build: Build) -> CiContext {
    let mut context = base.clone();
    let default_branch = base.default_branch.clone().unwrap_or_else(|| "main".to_string());
    context.sha = Some(SAMPLE_SHA.to_string());
    context.run = Some(SAMPLE_RUN.to_string());
    context.default_branch = Some(default_branch.clone());
    context.commit_date = None;
    context.base_ref = None;
    (context.pr, context.git_tag, context.branch, context.event) = match build {
        Build::PullRequest => {
            (Some(SAMPLE_PR), None, Some(SAMPLE_BRANCH.to_string()), Some("pull_request".to_string()))
        }
        Build::DefaultBranch => (None, None, Some(default_branch), Some("push".to_string())),
        Build::Release => {
            let [major, minor, patch] = SAMPLE_VERSION;
            let prefix = rules.semver_prefix.as_deref().unwrap_or("");
            (None, Some(format!("{prefix}v{major}.{minor}.{patch}")), None, Some("push".to_string()))
        }
    };
    context
}

/// A sample tag as an ECR pattern: each marker becomes `*` (runs of `*` collapse to one).
fn generalise(build: Build, tag: &str, today: &str) -> Sample {
    let mut pattern = tag.to_string();
    let mut commit = false;
    for length in (MIN_SHA_MARK..=SAMPLE_SHA.len()).rev() {
        let mark = &SAMPLE_SHA[..length];
        if pattern.contains(mark) {
            pattern = pattern.replace(mark, "*");
            commit = true;
        }
    }
    let pr = pattern.contains(&SAMPLE_PR.to_string());
    pattern = pattern.replace(&SAMPLE_PR.to_string(), "*");
    for mark in [SAMPLE_RUN, today] {
        if pattern.contains(mark) {
            pattern = pattern.replace(mark, "*");
            commit = true;
        }
    }
    for number in SAMPLE_VERSION {
        pattern = pattern.replace(number, "*");
    }
    if build == Build::PullRequest {
        pattern = pattern.replace(SAMPLE_BRANCH, "*");
    }
    while pattern.contains("**") {
        pattern = pattern.replace("**", "*");
    }
    Sample { build, tag: tag.to_string(), pattern, pr, commit }
}

/// ECR's tag pattern match: `*` stands for any run of characters (none included), everything else for itself.
pub fn glob(pattern: &str, tag: &str) -> bool {
    crate::names::glob_match(pattern, tag)
}

/// A `--keep-tag` pattern: tag characters and `*`, 1-128 long, at most four wildcards, not every tag.
fn check_keep_tag(pattern: &str) -> anyhow::Result<()> {
    let chars_ok = pattern.chars().all(|c| c.is_ascii_alphanumeric() || "_.-*".contains(c));
    let wildcards = pattern.matches('*').count();
    if !chars_ok
        || !(1..=128).contains(&pattern.len())
        || wildcards > MAX_WILDCARDS
        || pattern.chars().all(|c| c == '*')
    {
        bail_input!(
            "invalid --keep-tag '{pattern}': expected an ECR tag pattern of 1-128 characters ([A-Za-z0-9_.-] and at \
             most {MAX_WILDCARDS} '*' wildcards), not one that matches every tag"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::CiSystem;
    use crate::tags::{TagLine, metadata::Flavor};

    fn context() -> CiContext {
        CiContext {
            system: CiSystem::Git,
            branch: Some("feature".into()),
            sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
            git_tag: None,
            pr: None,
            run: None,
            default_branch: Some("main".into()),
            event: None,
            base_ref: None,
            commit_date: None,
            repository: Default::default(),
            given: Vec::new(),
        }
    }

    fn options() -> LifecycleOptions {
        LifecycleOptions { pr_days: 14, keep_commits: 30, untagged_days: Some(7), keep_tags: Vec::new() }
    }

    fn rules(lines: &[&str], flavor: &[&str], latest: bool, semver: bool) -> TagRules {
        let lines = TagLine::parse_all(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>()).unwrap();
        let flavor = if flavor.is_empty() {
            None
        } else {
            Some(Flavor::parse(&flavor.iter().map(|l| l.to_string()).collect::<Vec<_>>()).unwrap())
        };
        TagRules::from_parts(lines, flavor, None, latest, semver, None).unwrap()
    }

    /// One rule as (tagStatus, patterns, countType, countNumber).
    type Shape = (String, Vec<String>, String, u64);

    /// The policy's rules as [`Shape`]s, in priority order.
    fn shape(policy: &Value) -> Vec<Shape> {
        let rules = policy["rules"].as_array().unwrap();
        for (index, rule) in rules.iter().enumerate() {
            assert_eq!(rule["rulePriority"], index as u64 + 1);
        }
        rules
            .iter()
            .map(|rule| {
                let s = &rule["selection"];
                let patterns = s["tagPatternList"]
                    .as_array()
                    .map(|l| l.iter().map(|p| p.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                (
                    s["tagStatus"].as_str().unwrap().to_string(),
                    patterns,
                    s["countType"].as_str().unwrap().to_string(),
                    s["countNumber"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    fn keep(pattern: &str) -> Shape {
        ("tagged".into(), vec![pattern.into()], "imageCountMoreThan".into(), KEEP_COUNT as u64)
    }
    fn pr(pattern: &str) -> Shape {
        ("tagged".into(), vec![pattern.into()], "sinceImagePushed".into(), 14)
    }
    fn commits(pattern: &str) -> Shape {
        ("tagged".into(), vec![pattern.into()], "imageCountMoreThan".into(), 30)
    }
    fn untagged() -> Shape {
        ("untagged".into(), vec![], "sinceImagePushed".into(), 7)
    }

    #[test]
    fn policies_follow_the_tag_rules() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let cases: Vec<(TagRules, Vec<Shape>)> = vec![
            // The default tags: sha-…, pr-N, the branch, the git tag.
            (
                rules(&[], &[], false, false),
                vec![keep("main"), keep("v*.*.*"), pr("pr-*"), commits("sha-*"), untagged()],
            ),
            // --latest and --semver add protected tags; the semver major `*` would match everything, so it goes.
            (
                rules(&[], &[], true, true),
                vec![
                    keep("main"),
                    keep("latest"),
                    keep("v*.*.*"),
                    keep("*.*.*"),
                    keep("*.*"),
                    pr("pr-*"),
                    commits("sha-*"),
                    untagged(),
                ],
            ),
            // ecr-ship templates.
            (
                rules(&["{branch}-{sha:8}", "pr{pr}", "{git_tag}", "build-{run}"], &[], false, false),
                vec![keep("v*.*.*"), pr("pr*"), commits("*-*"), commits("build-*"), commits("main-*"), untagged()],
            ),
            // metadata-action lines with a flavor prefix.
            (
                rules(
                    &["type=ref,event=branch", "type=ref,event=pr", "type=semver,pattern={{version}}", "type=sha"],
                    &["prefix=app-"],
                    false,
                    false,
                ),
                // The planner's own answer: pr- and sha- carry their own prefixes, and latest=auto tags releases.
                vec![keep("app-main"), keep("app-*.*.*"), keep("latest"), pr("pr-*"), commits("sha-*"), untagged()],
            ),
        ];
        for (rules, expected) in cases {
            let policy = lifecycle_policy(&context(), &rules, now, &options()).unwrap();
            assert_eq!(shape(&policy.document), expected, "{:?}", rules.sources());
        }
    }

    #[test]
    fn options_shape_the_rules() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let options = LifecycleOptions {
            pr_days: 3,
            keep_commits: 5,
            untagged_days: None,
            keep_tags: vec!["prod".into(), "release-*".into()],
        };
        let policy = lifecycle_policy(&context(), &rules(&[], &[], false, false), now, &options).unwrap();
        let shaped = shape(&policy.document);
        assert_eq!(shaped.len(), 6, "{shaped:?}");
        assert_eq!(shaped[2], keep("prod"));
        assert_eq!(shaped[3], keep("release-*"));
        assert_eq!(shaped[4].3, 3);
        assert_eq!(shaped[5], ("tagged".into(), vec!["sha-*".into()], "imageCountMoreThan".into(), 5));
        let mut other = context();
        other.default_branch = Some("trunk".into());
        let policy = lifecycle_policy(&other, &rules(&[], &[], false, false), now, &super::tests::options()).unwrap();
        assert_eq!(shape(&policy.document)[0], keep("trunk"));
    }

    #[test]
    fn rules_ecr_cannot_express_are_bad_input() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let cases: Vec<(TagRules, LifecycleOptions, &str)> = vec![
            // `{pr}` alone is `*`, which matches the default branch's commit tags too.
            (rules(&["{pr}", "{sha:7}", "{branch}"], &[], false, false), options(), "cannot tell apart"),
            (rules(&["{pr}-{sha:7}-{run}-{date}-x-{sha:5}"], &[], false, false), options(), "wildcards"),
            // A --keep-tag that matches every tag, or the commit tags, would keep what the policy is to expire.
            (
                rules(&[], &[], false, false),
                LifecycleOptions { keep_tags: vec!["*".into()], ..options() },
                "--keep-tag '*'",
            ),
            (
                rules(&[], &[], false, false),
                LifecycleOptions { keep_tags: vec!["s*".into()], ..options() },
                "also matches the tags 'sha-*'",
            ),
            (
                rules(&[], &[], false, false),
                LifecycleOptions { keep_tags: vec!["a*b*c*d*e*".into()], ..options() },
                "--keep-tag",
            ),
            (
                rules(&["stable"], &[], false, false),
                LifecycleOptions { untagged_days: None, ..options() },
                "expire nothing",
            ),
        ];
        for (rules, options, expected) in cases {
            let error = lifecycle_policy(&context(), &rules, now, &options).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2, "{error}");
            assert!(error.to_string().contains(expected), "{error} (expected {expected})");
        }
    }

    #[test]
    fn ecr_patterns_match_as_ecr_does() {
        for (pattern, tag, expected) in [
            ("pr-*", "pr-7", true),
            ("pr-*", "pr-", true),
            ("pr-*", "xpr-7", false),
            ("*.*.*", "1.2.3", true),
            ("*.*.*", "1.2", false),
            ("v*.*.*", "v2.0.0-rc.1", true),
            ("main", "main", true),
            ("main", "main2", false),
            ("*-sha-*", "a-sha-b-sha-c", true),
            ("*", "", true),
            ("a*b", "acb", true),
            ("a*b", "acbc", false),
        ] {
            assert_eq!(glob(pattern, tag), expected, "{pattern} {tag}");
        }
    }
}
