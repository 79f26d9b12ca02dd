//! Tag planning: from a CI context and the user's tag rules to the list of tags to push, valid by construction.
//!
//! Every produced tag matches `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`: values from branches and git tags are slugged
//! (lower case, runs of other characters become '-', leading and trailing '.'/'-' trimmed), tags over 128
//! characters keep a short hash of the original value so two long branches never collide, and a value that slugs
//! to nothing falls back to `branch-<hash>`. Templates are parsed and checked up front, so an unknown placeholder is
//! a bad-input error before anything else happens.
//!
//! Two syntaxes, freely mixed one per line: ecr-ship's `{branch}-{sha:7}` templates (here) and docker/metadata-action's
//! `type=…` lines with `{{…}}` expressions and a flavor ([`metadata`]). `--latest` and `--semver` add their tags
//! whatever the lines are: after the templates' tags, and never silently dropped.

mod expr;
pub mod labels;
pub mod lifecycle;
pub mod metadata;
mod versions;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::bail_input;
use crate::ci::CiContext;
use crate::names::{MAX_TAG_LEN, is_valid_tag};
use metadata::{Flavor, RefContext, TagRule};

/// The most tags an image can carry in ECR (docs/ecr-behaviour.md §4): a plan with more is bad input.
pub const MAX_TAGS: usize = 1000;
/// Default length of the short commit id in `sha-<hex>` tags (as docker/metadata-action).
pub const DEFAULT_SHA_LENGTH: usize = 7;
const SHA_LENGTH_RANGE: std::ops::RangeInclusive<usize> = 4..=40;
const HASH_SUFFIX_LEN: usize = 8;

/// The user's tag rules, checked.
#[derive(Debug, Clone)]
pub struct TagRules {
    pub lines: Vec<TagLine>,
    /// metadata-action's `flavor:`, when given.
    pub flavor: Option<Flavor>,
    pub sha_length: usize,
    pub latest: bool,
    pub semver: bool,
    /// Monorepo release tags such as `app1/v1.2.3`: `--semver` reads the version after this prefix.
    pub semver_prefix: Option<String>,
}

/// One tag line, in whichever syntax it was written.
#[derive(Debug, Clone)]
pub enum TagLine {
    Template(Template),
    Metadata(TagRule),
}

impl TagLine {
    /// Parses and checks tag lines, each in its syntax: metadata-action's (`type=…`, `{{…}}`) or a template.
    pub fn parse_all(lines: &[String]) -> anyhow::Result<Vec<TagLine>> {
        lines.iter().map(|line| TagLine::parse(line)).collect()
    }

    fn parse(line: &str) -> anyhow::Result<TagLine> {
        Ok(if metadata::is_metadata_line(line) {
            TagLine::Metadata(metadata::parse_tag(line)?)
        } else if line.contains(',') {
            bail_input!(
                "invalid tag line '{line}': a comma no longer separates tags; give one per line or one per --tag \
                 (--tag {})",
                line.split(',').map(str::trim).collect::<Vec<_>>().join(" --tag ")
            )
        } else {
            TagLine::Template(Template::parse(line)?)
        })
    }
}

impl TagRules {
    /// The rules from tag lines and a flavor, parsed by [`TagLine::parse_all`] and [`Flavor::parse`] (so the
    /// caller can say where each came from), checked.
    pub fn from_parts(
        lines: Vec<TagLine>,
        flavor: Option<Flavor>,
        sha_length: Option<usize>,
        latest: bool,
        semver: bool,
        semver_prefix: Option<String>,
    ) -> anyhow::Result<TagRules> {
        let sha_length = sha_length.unwrap_or(DEFAULT_SHA_LENGTH);
        if !SHA_LENGTH_RANGE.contains(&sha_length) {
            bail_input!(
                "invalid sha length {sha_length}: expected {} to {}",
                SHA_LENGTH_RANGE.start(),
                SHA_LENGTH_RANGE.end()
            );
        }
        Ok(TagRules { lines, flavor, sha_length, latest, semver, semver_prefix })
    }

    /// The `X.Y.Z`, `X.Y`, `X` tags `--semver` gives a git tag (after the monorepo prefix, when one is set).
    fn semver_tags(&self, git_tag: &str) -> Vec<String> {
        match &self.semver_prefix {
            Some(prefix) => git_tag.strip_prefix(prefix.as_str()).map(semver_tags).unwrap_or_default(),
            None => semver_tags(git_tag),
        }
    }

    /// True when metadata-action's evaluation decides the tags: a `type=`/`{{…}}` line or a flavor was given.
    fn uses_metadata(&self) -> bool {
        self.flavor.is_some() || self.lines.iter().any(|line| matches!(line, TagLine::Metadata(_)))
    }

    fn sources(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|line| match line {
                TagLine::Template(template) => template.source().to_string(),
                TagLine::Metadata(rule) => rule.source.clone(),
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Branch,
    Sha(Option<usize>),
    GitTag,
    Pr,
    Run,
    Date,
}

/// A parsed tag template such as `{branch}-{sha:7}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

const PLACEHOLDERS: &str = "{branch} {sha} {sha:N} {git_tag} {pr} {run} {date}";

impl Template {
    pub fn parse(source: &str) -> anyhow::Result<Template> {
        let mut parts = Vec::new();
        let mut rest = source;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let Some(end) = rest.find('}') else {
                        bail_input!("invalid tag template '{source}': '{{' without a closing '}}'")
                    };
                    parts.push(placeholder(source, &rest[1..end])?);
                    rest = &rest[end + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let literal = &rest[..end];
                    if let Some(bad) = literal.chars().find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c))) {
                        bail_input!(
                            "invalid tag template '{source}': character '{bad}' cannot appear in a tag; \
                             literal text may use [A-Za-z0-9_.-] and placeholders {PLACEHOLDERS}"
                        );
                    }
                    parts.push(Part::Literal(literal.to_string()));
                    rest = &rest[end..];
                }
            }
        }
        if parts.is_empty() {
            bail_input!("invalid tag template '': a template needs text or placeholders ({PLACEHOLDERS})");
        }
        let literal_len: usize = parts.iter().map(|p| if let Part::Literal(l) = p { l.len() } else { 0 }).sum();
        if literal_len > MAX_TAG_LEN {
            bail_input!(
                "invalid tag template '{source}': its fixed text alone is longer than {MAX_TAG_LEN} characters"
            );
        }
        Ok(Template { source: source.to_string(), parts })
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

fn placeholder(source: &str, name: &str) -> anyhow::Result<Part> {
    Ok(match name {
        "branch" => Part::Branch,
        "sha" => Part::Sha(None),
        "git_tag" => Part::GitTag,
        "pr" => Part::Pr,
        "run" => Part::Run,
        "date" => Part::Date,
        _ => match name.strip_prefix("sha:").map(str::parse::<usize>) {
            Some(Ok(n)) if (1..=64).contains(&n) => Part::Sha(Some(n)),
            Some(_) => bail_input!("invalid tag template '{source}': '{{{name}}}' needs a length from 1 to 64"),
            None => {
                bail_input!("invalid tag template '{source}': unknown placeholder '{{{name}}}'; known: {PLACEHOLDERS}")
            }
        },
    })
}

/// Plans the tags for a build at the instant `now` (`{date}`, `{{date}}`).
#[cfg(test)]
pub fn plan(context: &CiContext, rules: &TagRules, now: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
    plan_noting(context, rules, now, &mut Vec::new())
}

/// [`plan`], with what the user should be warned about added to `warnings` (a line that made no tag and why).
pub fn plan_noting(
    context: &CiContext,
    rules: &TagRules,
    now: DateTime<Utc>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Vec<String>> {
    let mut tags = Vec::new();
    if rules.lines.is_empty() && rules.flavor.is_none() {
        default_tags(context, rules, &mut tags)?;
    } else {
        if rules.uses_metadata() {
            metadata_tags(context, rules, now, &mut tags, warnings)?;
        } else {
            let today = utc_date(now.timestamp());
            for line in &rules.lines {
                if let TagLine::Template(template) = line {
                    tags.extend(render(template, context, &today));
                }
            }
        }
        flag_tags(context, rules, &mut tags);
        if tags.is_empty() {
            bail_input!(
                "no tag could be made from the tag lines {:?}: every one needs a value this build lacks \
                 ({}); pass it explicitly (--branch, --sha, --git-tag, --pr) or add a line without it",
                rules.sources(),
                describe(context)
            );
        }
    }
    no_effect_warnings(context, rules, warnings);
    let unique = first_of_each(tags);
    if unique.len() > MAX_TAGS {
        bail_input!(
            "the tag rules plan {} tags for this build ({} … {}), and ECR keeps at most 1,000 on an image \
             (docs/ecr-behaviour.md §4): give fewer tag lines",
            unique.len(),
            unique[0],
            unique[unique.len() - 1]
        );
    }
    Ok(unique)
}

/// The tags in order, each kept where it first appears: one pass, whatever the count.
fn first_of_each(tags: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(tags.len());
    tags.into_iter()
        .filter(|tag| {
            debug_assert!(is_valid_tag(tag), "planner produced invalid tag {tag:?}");
            seen.insert(tag.clone())
        })
        .collect()
}

/// What `--semver` and `--latest` add to explicit lines: the semver tags of a release tag, and `latest` on the
/// default branch (the same rules as the default tags).
fn flag_tags(context: &CiContext, rules: &TagRules, tags: &mut Vec<String>) {
    if rules.semver
        && let Some(git_tag) = &context.git_tag
    {
        tags.extend(rules.semver_tags(git_tag));
    }
    if rules.latest && is_default_branch_build(context) {
        tags.push("latest".to_string());
    }
}

/// A flag that adds nothing to this build is named, so it is never silently dropped.
fn no_effect_warnings(context: &CiContext, rules: &TagRules, warnings: &mut Vec<String>) {
    if rules.semver {
        match &context.git_tag {
            None => {
                warnings.push(format!("--semver has no effect: this build is not of a git tag ({})", describe(context)))
            }
            Some(git_tag) if rules.semver_tags(git_tag).is_empty() => warnings.push(format!(
                "--semver has no effect: the git tag '{git_tag}' is not a version {}vX.Y.Z",
                rules.semver_prefix.as_deref().unwrap_or("")
            )),
            Some(_) => {}
        }
    }
    if rules.latest && !is_default_branch_build(context) {
        warnings.push(format!(
            "--latest has no effect: `latest` goes only to builds of the default branch '{}' ({})",
            context.default_branch.as_deref().unwrap_or("main"),
            describe(context)
        ));
    }
}

fn is_default_branch_build(context: &CiContext) -> bool {
    context.pr.is_none()
        && context.git_tag.is_none()
        && context.branch.as_deref().is_some_and(|b| b == context.default_branch.as_deref().unwrap_or("main"))
}

/// metadata-action's view of the build: its git ref, made from what was detected.
pub fn ref_context(context: &CiContext, sha_length: usize, now: DateTime<Utc>) -> RefContext {
    let git_ref = match (&context.pr, &context.git_tag, &context.branch) {
        (Some(pr), _, _) => format!("refs/pull/{pr}/merge"),
        (None, Some(tag), _) => format!("refs/tags/{tag}"),
        (None, None, Some(branch)) => format!("refs/heads/{branch}"),
        (None, None, None) => String::new(),
    };
    let event_name = context
        .event
        .clone()
        .unwrap_or_else(|| if context.pr.is_some() { "pull_request".to_string() } else { "push".to_string() });
    RefContext {
        git_ref,
        sha: context.sha.clone().unwrap_or_default(),
        event_name,
        default_branch: context.default_branch.clone(),
        base_ref: context.base_ref.clone(),
        now,
        commit_date: context
            .commit_date
            .as_deref()
            .and_then(|date| DateTime::parse_from_rfc3339(date).ok())
            .map(|date| date.with_timezone(&Utc)),
        short_sha_length: sha_length,
    }
}

fn metadata_tags(
    context: &CiContext,
    rules: &TagRules,
    now: DateTime<Utc>,
    tags: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<()> {
    let today = utc_date(now.timestamp());
    let defaults;
    let lines: Vec<metadata::Line> = if rules.lines.is_empty() {
        defaults = metadata::default_rules();
        defaults.iter().map(metadata::Line::Rule).collect()
    } else {
        rules
            .lines
            .iter()
            .filter_map(|line| match line {
                TagLine::Metadata(rule) => Some(metadata::Line::Rule(rule)),
                TagLine::Template(template) => render(template, context, &today)
                    .map(|value| metadata::Line::Raw { value, priority: metadata::RAW_PRIORITY }),
            })
            .collect()
    };
    let flavor = rules.flavor.clone().unwrap_or_default();
    let version = metadata::evaluate(&lines, &flavor, &ref_context(context, rules.sha_length, now))?;
    tags.extend(version.tags(&flavor).iter().filter_map(|tag| valid_tag(tag)));
    warnings.extend(version.warnings);
    Ok(())
}

/// A metadata-action tag made valid: case kept (as metadata-action does), leading `.`/`-` dropped, and a tag over
/// 128 characters shortened with a hash of the whole.
fn valid_tag(tag: &str) -> Option<String> {
    let trimmed = tag.trim_start_matches(['.', '-']);
    if trimmed.is_empty() {
        return None;
    }
    Some(if trimmed.len() > MAX_TAG_LEN { shorten(trimmed, MAX_TAG_LEN, tag) } else { trimmed.to_string() })
}

fn describe(context: &CiContext) -> String {
    format!(
        "{}: branch {}, commit {}, git tag {}, pull request {}",
        context.origin(),
        context.branch.as_deref().unwrap_or("none"),
        context.sha.as_deref().unwrap_or("none"),
        context.git_tag.as_deref().unwrap_or("none"),
        context.pr.map_or("none".to_string(), |n| n.to_string())
    )
}

fn default_tags(context: &CiContext, rules: &TagRules, tags: &mut Vec<String>) -> anyhow::Result<()> {
    let commit_tag = context.sha.as_ref().map(|sha| format!("sha-{}", &sha[..rules.sha_length.min(sha.len())]));
    if let Some(pr) = context.pr {
        tags.extend(commit_tag);
        tags.push(format!("pr-{pr}"));
    } else if let Some(git_tag) = &context.git_tag {
        tags.push(value_tag(git_tag, "tag"));
        if rules.semver {
            tags.extend(rules.semver_tags(git_tag));
        }
        tags.extend(commit_tag);
    } else {
        tags.extend(commit_tag);
        if let Some(branch) = &context.branch {
            tags.push(value_tag(branch, "branch"));
            let default_branch = context.default_branch.as_deref().unwrap_or("main");
            if rules.latest && branch == default_branch {
                tags.push("latest".to_string());
            }
        }
    }
    if tags.is_empty() {
        bail_input!(
            "no tags to plan: the build has no commit, branch, git tag or pull request ({}); pass --sha or --tag",
            describe(context)
        );
    }
    Ok(())
}

/// `1.2.3`, `1.2` and `1` for a release tag `v1.2.3` (no `0` for 0.x, and only the full version for pre-releases,
/// so a release candidate never moves `1.2`).
fn semver_tags(git_tag: &str) -> Vec<String> {
    let version = git_tag.strip_prefix('v').unwrap_or(git_tag);
    let (core, pre) = match version.split_once(['-', '+']) {
        Some((core, _)) => (core, true),
        None => (version, false),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let numeric = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if numbers.len() != 3 || !numbers.iter().all(numeric) {
        return Vec::new();
    }
    let mut out = vec![value_tag(version, "tag")];
    if !pre {
        out.push(format!("{}.{}", numbers[0], numbers[1]));
        if numbers[0] != "0" {
            out.push(numbers[0].to_string());
        }
    }
    out
}

fn render(template: &Template, context: &CiContext, today: &str) -> Option<String> {
    // Free-text parts (branch, git tag, run) may be shortened to fit; everything else stays whole.
    let mut pieces: Vec<(String, Option<&str>)> = Vec::new();
    for part in &template.parts {
        let piece = match part {
            Part::Literal(text) => (text.clone(), None),
            Part::Branch => free_text(context.branch.as_deref()?, "branch"),
            Part::GitTag => free_text(context.git_tag.as_deref()?, "tag"),
            Part::Run => (slug(context.run.as_deref()?)?, context.run.as_deref()),
            Part::Sha(length) => {
                let sha = context.sha.as_deref()?;
                (sha[..length.unwrap_or(sha.len()).min(sha.len())].to_string(), None)
            }
            Part::Pr => (context.pr?.to_string(), None),
            Part::Date => (today.to_string(), None),
        };
        pieces.push(piece);
    }
    let total: usize = pieces.iter().map(|(text, _)| text.len()).sum();
    if total > MAX_TAG_LEN {
        let excess = total - MAX_TAG_LEN;
        let longest = pieces
            .iter()
            .enumerate()
            .filter(|(_, (_, original))| original.is_some())
            .max_by_key(|(_, (text, _))| text.len())
            .map(|(index, _)| index);
        match longest {
            Some(index) if pieces[index].0.len() > excess + HASH_SUFFIX_LEN + 1 => {
                let (text, original) = &pieces[index];
                let keep = text.len() - excess;
                pieces[index].0 = shorten(text, keep, original.unwrap_or(text));
            }
            _ => {
                let joined: String = pieces.iter().map(|(text, _)| text.as_str()).collect();
                return Some(shorten(&joined, MAX_TAG_LEN, &joined));
            }
        }
    }
    let joined: String = pieces.into_iter().map(|(text, _)| text).collect();
    let trimmed = joined.trim_start_matches(['.', '-']);
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

fn free_text<'a>(value: &'a str, kind: &str) -> (String, Option<&'a str>) {
    (slug(value).unwrap_or_else(|| fallback(kind, value)), Some(value))
}

/// A tag for a branch or git tag name: its slug, shortened with a hash when too long, or `<kind>-<hash>` when
/// nothing of the name survives slugging.
fn value_tag(value: &str, kind: &str) -> String {
    match slug(value) {
        Some(slugged) if slugged.len() <= MAX_TAG_LEN => slugged,
        Some(slugged) => shorten(&slugged, MAX_TAG_LEN, value),
        None => fallback(kind, value),
    }
}

fn fallback(kind: &str, original: &str) -> String {
    format!("{kind}-{}", short_hash(original))
}

/// Lower-cases and replaces every run of characters outside `[a-z0-9_.-]` with one '-'; trims '.' and '-' from
/// both ends. `None` when nothing is left.
pub fn slug(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches(['.', '-']);
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// Cuts `text` to at most `limit` characters ending in `-<hash of original>`.
fn shorten(text: &str, limit: usize, original: &str) -> String {
    let keep = limit.saturating_sub(HASH_SUFFIX_LEN + 1);
    let head = text[..keep.min(text.len())].trim_end_matches(['.', '-']);
    if head.is_empty() { short_hash(original) } else { format!("{head}-{}", short_hash(original)) }
}

fn short_hash(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    digest.iter().take(HASH_SUFFIX_LEN / 2).map(|b| format!("{b:02x}")).collect()
}

/// `YYYYMMDD` for a Unix time in seconds (UTC).
pub fn utc_date(unix_seconds: i64) -> String {
    DateTime::from_timestamp(unix_seconds, 0).unwrap_or(DateTime::UNIX_EPOCH).format("%Y%m%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::CiSystem;

    fn context(branch: Option<&str>, git_tag: Option<&str>, pr: Option<u64>) -> CiContext {
        CiContext {
            system: CiSystem::Git,
            branch: branch.map(Into::into),
            sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
            git_tag: git_tag.map(Into::into),
            pr,
            run: Some("42".into()),
            default_branch: Some("main".into()),
            event: None,
            base_ref: None,
            commit_date: None,
            repository: Default::default(),
            given: Vec::new(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn new_rules(
        lines: &[String],
        flavor: &[String],
        sha_length: Option<usize>,
        latest: bool,
        semver: bool,
        semver_prefix: Option<String>,
    ) -> anyhow::Result<TagRules> {
        let flavor = if flavor.is_empty() { None } else { Some(Flavor::parse(flavor)?) };
        TagRules::from_parts(TagLine::parse_all(lines)?, flavor, sha_length, latest, semver, semver_prefix)
    }

    fn rules(templates: &[&str]) -> TagRules {
        new_rules(&templates.iter().map(|t| t.to_string()).collect::<Vec<_>>(), &[], None, false, false, None).unwrap()
    }

    #[test]
    fn default_tags_by_build_kind() {
        let cases: Vec<(CiContext, bool, bool, Vec<&str>)> = vec![
            (context(Some("main"), None, None), false, false, vec!["sha-0123456", "main"]),
            (context(Some("main"), None, None), true, false, vec!["sha-0123456", "main", "latest"]),
            (context(Some("feature/x"), None, None), true, false, vec!["sha-0123456", "feature-x"]),
            (context(Some("feature/x"), None, Some(12)), true, false, vec!["sha-0123456", "pr-12"]),
            (context(None, Some("v1.2.3"), None), false, true, vec!["v1.2.3", "1.2.3", "1.2", "1", "sha-0123456"]),
            (context(None, Some("v0.4.0"), None), false, true, vec!["v0.4.0", "0.4.0", "0.4", "sha-0123456"]),
            (context(None, Some("v2.0.0-rc.1"), None), false, true, vec!["v2.0.0-rc.1", "2.0.0-rc.1", "sha-0123456"]),
            (context(None, Some("v1.2.3"), None), false, false, vec!["v1.2.3", "sha-0123456"]),
            (context(None, Some("release-7"), None), false, true, vec!["release-7", "sha-0123456"]),
            (context(None, None, None), true, true, vec!["sha-0123456"]),
        ];
        for (ctx, latest, semver, expected) in cases {
            let rules = new_rules(&[], &[], None, latest, semver, None).unwrap();
            assert_eq!(plan(&ctx, &rules, now()).unwrap(), expected, "{ctx:?}");
        }
    }

    #[test]
    fn at_most_1000_tags_are_planned_and_repeats_keep_their_first_place() {
        let ctx = context(Some("main"), None, None);
        let lines: Vec<String> = (0..MAX_TAGS).map(|n| format!("t{n}")).collect();
        let mut repeated = lines.clone();
        repeated.extend(["t5".to_string(), "latest".to_string(), "t0".to_string()]);
        let error = plan(&ctx, &rules(&repeated.iter().map(String::as_str).collect::<Vec<_>>()), now()).unwrap_err();
        assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT);
        assert!(error.to_string().contains("1001 tags") && error.to_string().contains("1,000"), "{error}");
        // Exactly 1,000 distinct tags, each at its first place.
        let mut at_cap = lines.clone();
        at_cap.insert(3, "t1".to_string());
        at_cap.push("t0".to_string());
        let tags = plan(&ctx, &rules(&at_cap.iter().map(String::as_str).collect::<Vec<_>>()), now()).unwrap();
        assert_eq!(tags, lines);
        assert_eq!(
            first_of_each(["b", "a", "b", "c", "a"].map(String::from).to_vec()),
            ["b", "a", "c"],
            "first occurrence order, not sorted"
        );
    }

    #[test]
    fn templates_render_and_skip_missing_values() {
        let ctx = context(Some("Feature/Login"), None, None);
        let tags = plan(&ctx, &rules(&["{branch}-{sha:7}", "pr-{pr}", "build-{run}", "{date}", "v{sha:10}"]), now());
        assert_eq!(tags.unwrap(), vec!["feature-login-0123456", "build-42", "20261122", "v0123456789"]);
        let full = plan(&ctx, &rules(&["{sha}"]), now()).unwrap();
        assert_eq!(full, vec!["0123456789abcdef0123456789abcdef01234567"]);
        let no_values = plan(&context(None, None, None), &rules(&["pr-{pr}"]), now()).unwrap_err();
        assert_eq!(crate::error::exit_code(&no_values), 2);
    }

    #[test]
    fn bad_templates_are_bad_input() {
        for (template, expected) in [
            ("{nope}", "unknown placeholder '{nope}'"),
            ("{sha:0}", "needs a length"),
            ("{sha:abc}", "needs a length"),
            ("a/{branch}", "character '/'"),
            ("{branch", "without a closing"),
            ("", "needs text"),
        ] {
            let error = new_rules(&[template.to_string()], &[], None, false, false, None).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2);
            assert!(error.to_string().contains(expected), "{template}: {error}");
        }
        assert!(new_rules(&[], &[], Some(3), false, false, None).is_err());
        assert!(new_rules(&[], &[], Some(41), false, false, None).is_err());
    }

    #[test]
    fn long_branches_keep_unique_and_keep_the_sha() {
        let a = "feature/".to_string() + &"a".repeat(242);
        let b = "feature/".to_string() + &"a".repeat(241) + "b";
        let tag_a = plan(&context(Some(&a), None, None), &rules(&["{branch}-{sha:7}"]), now()).unwrap();
        let tag_b = plan(&context(Some(&b), None, None), &rules(&["{branch}-{sha:7}"]), now()).unwrap();
        assert_ne!(tag_a, tag_b);
        assert!(tag_a[0].len() <= 128 && tag_a[0].ends_with("-0123456"), "{tag_a:?}");
        let default_a = plan(&context(Some(&a), None, None), &rules(&[]), now()).unwrap();
        assert_eq!(default_a[1].len(), 128);
        assert!(is_valid_tag(&default_a[1]));
    }

    #[test]
    fn names_that_slug_to_nothing_fall_back() {
        let tags = plan(&context(Some("ñ/ü"), None, None), &rules(&[]), now()).unwrap();
        assert!(tags[1].starts_with("branch-") && tags[1].len() == 15, "{tags:?}");
        assert_ne!(plan(&context(Some("é"), None, None), &rules(&[]), now()).unwrap(), tags);
        assert_eq!(slug(".-Héllo wörld!!-."), Some("h-llo-w-rld".into()));
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "19700101");
        assert_eq!(utc_date(1_795_305_600), "20261122");
        assert_eq!(utc_date(951_782_400), "20000229");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_context(branch: String, git_tag: Option<String>, pr: Option<u64>) -> CiContext {
            CiContext { branch: Some(branch), git_tag, pr, ..context(None, None, None) }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn every_tag_matches_the_grammar(
                branch in "\\PC{0,300}",
                git_tag in proptest::option::of("[a-zA-Z0-9./+_~^ -]{0,200}"),
                pr in proptest::option::of(1u64..100_000),
                latest: bool,
                semver: bool,
            ) {
                let ctx = any_context(branch, git_tag, pr);
                let defaults = new_rules(&[], &[], None, latest, semver, None).unwrap();
                let templated = rules(&["{branch}-{sha:7}", "{git_tag}", "x{branch}{branch}", "{branch}.{run}-{date}"]);
                for rules in [defaults, templated] {
                    let tags = plan(&ctx, &rules, now()).unwrap();
                    prop_assert!(!tags.is_empty());
                    for tag in &tags {
                        prop_assert!(is_valid_tag(tag), "invalid tag {:?}", tag);
                    }
                    // A set, not dedup(): dedup() only drops adjacent repeats.
                    let unique: std::collections::BTreeSet<&String> = tags.iter().collect();
                    prop_assert_eq!(unique.len(), tags.len(), "repeated tag in {:?}", tags);
                }
            }

            #[test]
            fn distinct_long_branches_get_distinct_tags(stem in "[a-z/]{130,200}", a in "[a-z]{1,5}", b in "[a-z]{1,5}") {
                prop_assume!(a != b);
                let tag_of = |suffix: &str| plan(&any_context(format!("{stem}{suffix}"), None, None), &rules(&["{branch}"]), now()).unwrap();
                prop_assert_ne!(tag_of(&a), tag_of(&b));
            }
        }
    }
}
