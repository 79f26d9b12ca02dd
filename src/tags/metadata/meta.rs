//! metadata-action's `src/meta.ts`: the evaluation. The parsed lines are sorted by priority and evaluated against
//! the build's [`RefContext`] as its `getVersion` does: each rule adds a value when its event matches, the first
//! value is the main version, and `latest` is decided by the first rule that produced a value and the flavor.
//! Also its global expressions (`{{branch}}`, `{{date …}}`, ...) for labels, and `sanitizeTag`. Pure: no
//! environment, no clock (the time is in the context).

use chrono::{DateTime, Utc};
use regex_lite::Regex;

use super::flavor::Flavor;
use super::tag::{Kind, TagRule, regex_of};
use crate::bail_input;
use crate::tags::expr::{self, Expr, HelperCall};
use crate::tags::versions::{Pep440, SemVer};

/// What metadata-action reads of a build: the git ref and commit, the event, and the repository's default branch.
#[derive(Debug, Clone, Default)]
pub struct RefContext {
    /// `refs/heads/B`, `refs/tags/T`, `refs/pull/N/merge`, or empty.
    pub git_ref: String,
    pub sha: String,
    pub event_name: String,
    pub default_branch: Option<String>,
    /// A tag push's `base_ref`, or a pull request's base branch.
    pub base_ref: Option<String>,
    pub now: DateTime<Utc>,
    pub commit_date: Option<DateTime<Utc>>,
    /// Length of `{{sha}}` and `type=sha` short ids (DOCKER_METADATA_SHORT_SHA_LENGTH, default 7).
    pub short_sha_length: usize,
}

impl RefContext {
    fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }

    fn tag(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/tags/")
    }

    fn short_sha(&self) -> String {
        self.sha.chars().take(self.short_sha_length).collect()
    }

    fn is_default_branch(&self) -> bool {
        let branch = self.git_ref.strip_prefix("refs/heads/").unwrap_or(&self.git_ref);
        if branch.is_empty() {
            return false;
        }
        if self.default_branch.as_deref() == Some(branch) {
            return true;
        }
        // These events always run for the last commit of the default branch.
        ["create", "discussion", "issues", "schedule"].iter().any(|event| self.event_name.contains(event))
    }
}

/// metadata-action's `Version`: the main value, the other values in order, and whether `latest` is added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Version {
    pub main: Option<String>,
    pub partial: Vec<String>,
    pub latest: bool,
    /// What metadata-action would warn about: a rule that matched nothing it could use.
    pub warnings: Vec<String>,
}

impl Version {
    /// The tags in metadata-action's order: main, partials, then `latest` with the flavor's prefix/suffix if asked.
    pub fn tags(&self, flavor: &Flavor) -> Vec<String> {
        let Some(main) = &self.main else { return Vec::new() };
        let mut tags = vec![main.clone()];
        tags.extend(self.partial.iter().cloned());
        if self.latest {
            let prefix = if flavor.prefix_latest { flavor.prefix.as_str() } else { "" };
            let suffix = if flavor.suffix_latest { flavor.suffix.as_str() } else { "" };
            tags.push(sanitize(&format!("{prefix}latest{suffix}")));
        }
        tags
    }
}

/// One line to evaluate: a parsed rule, or a value made outside metadata-action's syntax (an ecr-ship `{…}`
/// template), which counts as a `type=raw` line of that priority.
pub enum Line<'a> {
    Rule(&'a TagRule),
    Raw { value: String, priority: i64 },
}

impl Line<'_> {
    fn priority(&self) -> i64 {
        match self {
            Line::Rule(rule) => rule.priority,
            Line::Raw { priority, .. } => *priority,
        }
    }
}

/// The priority of a `type=raw` line, which ecr-ship templates take when mixed with metadata-action lines.
pub const RAW_PRIORITY: i64 = 200;

/// Evaluates the lines (sorted by priority, stable) against the build, as metadata-action's `getVersion`.
pub fn evaluate(lines: &[Line], flavor: &Flavor, context: &RefContext) -> anyhow::Result<Version> {
    let mut entries: Vec<&Line> = lines.iter().collect();
    entries.sort_by_key(|line| std::cmp::Reverse(line.priority()));
    let evaluator = Evaluator { context, flavor, warnings: std::cell::RefCell::new(Vec::new()) };
    let mut version = Version::default();
    let mut latest: Option<bool> = None;
    for entry in entries {
        let produced = match entry {
            Line::Rule(rule) => evaluator.rule(rule)?,
            Line::Raw { value, .. } => Some((evaluator.with_affixes(None, value.clone())?, flavor.latest_or(false))),
        };
        if let Some((value, auto_latest)) = produced {
            if value.is_empty() {
                continue;
            }
            let value = sanitize(&value);
            match &version.main {
                None => version.main = Some(value),
                Some(main) if *main != value => {
                    if !version.partial.contains(&value) {
                        version.partial.push(value)
                    }
                }
                Some(_) => {}
            }
            latest.get_or_insert(auto_latest);
        }
    }
    version.latest = latest.unwrap_or(false);
    version.warnings = evaluator.warnings.into_inner();
    Ok(version)
}

/// Renders metadata-action's global expressions (`{{branch}}`, `{{date …}}`, ...) in a label or annotation.
pub fn render(text: &str, context: &RefContext) -> anyhow::Result<String> {
    let flavor = Flavor::default();
    let evaluator = Evaluator { context, flavor: &flavor, warnings: std::cell::RefCell::new(Vec::new()) };
    evaluator.global(text)
}

/// metadata-action's `sanitizeTag`: every run of characters outside `[a-zA-Z0-9._-]` becomes one `-`.
pub fn sanitize(tag: &str) -> String {
    let mut out = String::with_capacity(tag.len());
    let mut in_run = false;
    for c in tag.chars() {
        if c.is_ascii_alphanumeric() || "._-".contains(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    out
}

struct Evaluator<'a> {
    context: &'a RefContext,
    flavor: &'a Flavor,
    warnings: std::cell::RefCell<Vec<String>>,
}

impl Evaluator<'_> {
    fn warn(&self, message: String) {
        self.warnings.borrow_mut().push(message);
    }

    /// `{{branch}}`, `{{tag}}`, `{{sha}}`, `{{base_ref}}`, `{{is_default_branch}}`, `{{is_not_default_branch}}`,
    /// `{{date …}}` and `{{commit_date …}}`, as metadata-action's `setGlobalExp`.
    fn global(&self, text: &str) -> anyhow::Result<String> {
        let context = self.context;
        Expr::parse(text)?.render(&|call: &HelperCall| {
            Ok(Some(match call.name.as_str() {
                "branch" => context.branch().unwrap_or("").to_string(),
                "tag" => context.tag().unwrap_or("").to_string(),
                "sha" => context.short_sha(),
                "base_ref" => context.base_ref.clone().unwrap_or_default(),
                "is_default_branch" => context.is_default_branch().to_string(),
                "is_not_default_branch" => (!context.is_default_branch()).to_string(),
                "date" => expr::format_date(call, context.now)?,
                "commit_date" => expr::format_date(call, context.commit_date.unwrap_or(context.now))?,
                _ => return Ok(None),
            }))
        })
    }

    /// The rule's prefix/suffix, else the flavor's, around the value (`setValue`).
    fn with_affixes(&self, rule: Option<&TagRule>, value: String) -> anyhow::Result<String> {
        let prefix = match rule.and_then(|r| r.attr("prefix")) {
            Some(prefix) => self.global(prefix)?,
            None if !self.flavor.prefix.is_empty() => self.global(&self.flavor.prefix)?,
            None => String::new(),
        };
        let suffix = match rule.and_then(|r| r.attr("suffix")) {
            Some(suffix) => self.global(suffix)?,
            None if !self.flavor.suffix.is_empty() => self.global(&self.flavor.suffix)?,
            None => String::new(),
        };
        Ok(format!("{prefix}{value}{suffix}"))
    }

    /// The rule's value and its automatic `latest`, or `None` when the rule does not apply to this build.
    fn rule(&self, rule: &TagRule) -> anyhow::Result<Option<(String, bool)>> {
        let enabled = self.global(rule.attr_or_empty("enable"))?;
        match enabled.as_str() {
            "true" => {}
            "false" => return Ok(None),
            other => {
                bail_input!("invalid tag line '{}': enable must come out true or false, not '{other}'", rule.source)
            }
        }
        let context = self.context;
        let value = |auto_latest: bool, value: String| -> anyhow::Result<Option<(String, bool)>> {
            Ok(Some((self.with_affixes(Some(rule), value)?, self.flavor.latest_or(auto_latest))))
        };
        match rule.kind {
            Kind::Schedule => {
                if !context.event_name.contains("schedule") {
                    return Ok(None);
                }
                let rendered = Expr::parse(rule.attr_or_empty("pattern"))?.render(&|call: &HelperCall| match call
                    .name
                    .as_str()
                {
                    "date" => expr::format_date(call, context.now).map(Some),
                    "commit_date" => expr::format_date(call, context.commit_date.unwrap_or(context.now)).map(Some),
                    _ => Ok(None),
                })?;
                value(false, rendered)
            }
            Kind::Semver | Kind::Pep440 => {
                let Some(raw) = self.version_input(rule)? else { return Ok(None) };
                let pattern = rule.attr_or_empty("pattern");
                if rule.kind == Kind::Semver {
                    let Some(parsed) = SemVer::parse(&raw) else {
                        self.warn(format!(
                            "{raw} is not a valid semver (https://semver.org); {} adds no tag",
                            rule.source
                        ));
                        return Ok(None);
                    };
                    let semver_pattern =
                        if parsed.prerelease.is_empty() || is_raw_statement(pattern) { pattern } else { "{{version}}" };
                    let rendered =
                        Expr::parse(semver_pattern)?.render(&|call: &HelperCall| Ok(parsed.field(&call.name)))?;
                    value(parsed.prerelease.is_empty(), rendered)
                } else {
                    let Some(parsed) = Pep440::parse(&raw) else {
                        self.warn(format!("{raw} does not conform to PEP 440; {} adds no tag", rule.source));
                        return Ok(None);
                    };
                    if parsed.is_special() {
                        let rendered = if is_raw_statement(pattern) { raw.clone() } else { parsed.normalized() };
                        return value(false, rendered);
                    }
                    let rendered = Expr::parse(pattern)?.render(&|call: &HelperCall| {
                        Ok(Some(match call.name.as_str() {
                            "raw" => raw.clone(),
                            "version" => parsed.normalized(),
                            "major" => parsed.major().to_string(),
                            "minor" => parsed.minor().to_string(),
                            "patch" => parsed.patch().to_string(),
                            _ => return Ok(None),
                        }))
                    })?;
                    value(true, rendered)
                }
            }
            Kind::Match => {
                let given = rule.attr_or_empty("value");
                if context.tag().is_none() && given.is_empty() {
                    return Ok(None);
                }
                let raw = if given.is_empty() { context.tag().unwrap_or("").to_string() } else { self.global(given)? };
                let pattern = rule.attr_or_empty("pattern");
                let regex = regex_of(pattern)?;
                let Some(captures) = regex.captures(&raw) else {
                    self.warn(format!("{pattern} does not match {raw}; {} adds no tag", rule.source));
                    return Ok(None);
                };
                let group: usize = rule.attr_or_empty("group").parse().unwrap_or(0);
                match captures.get(group) {
                    Some(found) => value(true, found.as_str().to_string()),
                    None => {
                        self.warn(format!(
                            "group {group} does not exist for the pattern {pattern}; {} adds no tag",
                            rule.source
                        ));
                        Ok(None)
                    }
                }
            }
            Kind::Ref => {
                let (found, auto_latest) = match rule.attr_or_empty("event") {
                    "branch" => (context.branch().map(str::to_string), false),
                    "tag" => (context.tag().map(str::to_string), true),
                    _ => (
                        context
                            .git_ref
                            .strip_prefix("refs/pull/")
                            .map(|rest| rest.strip_suffix("/merge").unwrap_or(rest).to_string()),
                        false,
                    ),
                };
                match found {
                    Some(found) => value(auto_latest, found),
                    None => Ok(None),
                }
            }
            Kind::Edge => {
                let Some(branch) = context.branch() else { return Ok(None) };
                let wanted = match rule.attr_or_empty("branch") {
                    "" => context.default_branch.as_deref().unwrap_or(""),
                    named => named,
                };
                if wanted != branch {
                    return Ok(None);
                }
                value(false, "edge".to_string())
            }
            Kind::Raw => {
                let rendered = self.global(rule.attr_or_empty("value"))?;
                value(false, rendered)
            }
            Kind::Sha => {
                if context.sha.is_empty() {
                    return Ok(None);
                }
                let sha = if rule.attr("format") == Some("long") { context.sha.clone() } else { context.short_sha() };
                value(false, sha)
            }
        }
    }

    /// The text a semver/pep440 rule parses: `value=` if given, else the git tag, narrowed by `match=` (group 1).
    fn version_input(&self, rule: &TagRule) -> anyhow::Result<Option<String>> {
        let given = rule.attr_or_empty("value");
        if self.context.tag().is_none() && given.is_empty() {
            return Ok(None);
        }
        let mut raw = if given.is_empty() { self.context.tag().unwrap_or("").to_string() } else { self.global(given)? };
        let narrow = rule.attr_or_empty("match");
        if !narrow.is_empty() {
            match Regex::new(narrow)?.captures(&raw).and_then(|c| c.get(1)) {
                Some(found) => raw = found.as_str().to_string(),
                None => self.warn(format!("{narrow} does not match {raw}")),
            }
        }
        Ok(Some(raw.replace('/', "-")))
    }
}

/// True when the pattern is exactly one `{{raw}}` mustache (metadata-action's `isRawStatement`).
pub fn is_raw_statement(pattern: &str) -> bool {
    let Ok(parsed) = Expr::parse(pattern) else { return false };
    let calls: Vec<&HelperCall> = parsed.calls().collect();
    calls.len() == 1 && calls[0].name == "raw" && pattern.trim().starts_with("{{") && pattern.trim().ends_with("}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_statements_are_one_raw_mustache() {
        // metadata-action's own isRawStatement cases.
        let cases = [
            ("{{ raw }}.{{ version }}", false),
            ("{{ version }},{{raw }.", false),
            ("{{ raw }}", true),
            ("{{ raw}}", true),
            ("{{raw}}", true),
        ];
        for (pattern, expected) in cases {
            assert_eq!(is_raw_statement(pattern), expected, "{pattern}");
        }
    }

    #[test]
    fn sanitize_replaces_runs_of_foreign_characters() {
        assert_eq!(sanitize("feature/a b&c"), "feature-a-b-c");
        assert_eq!(sanitize("v1.2.3_RC-1"), "v1.2.3_RC-1");
    }
}
