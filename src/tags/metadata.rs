//! docker/metadata-action's `tags:` and `flavor:` syntax, verbatim: `type=semver,pattern={{version}}` lines are
//! parsed into checked rules up front, then evaluated against the build's [`RefContext`] the way metadata-action
//! evaluates them (its `src/tag.ts`, `src/flavor.ts` and `src/meta.ts`): sorted by priority, each rule adding a
//! value when its event matches, the first value being the main version, `latest` decided by the first rule that
//! produced a value and the flavor. Pure: no environment, no clock (the time is in the context).
//!
//! Where the results differ, ecr-ship's rules win and the README lists them: tags always come out valid (the
//! caller makes each one a valid tag), and a pull request's commit is its head, not GitHub's merge commit.

use chrono::{DateTime, Utc};
use regex::Regex;

use super::expr::{self, Call, Expr};
use super::versions::{Pep440, SemVer};
use crate::bail_input;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Schedule,
    Semver,
    Pep440,
    Match,
    Edge,
    Ref,
    Raw,
    Sha,
}

impl Kind {
    const NAMES: &'static str = "schedule, semver, pep440, match, edge, ref, raw, sha";

    fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "schedule" => Kind::Schedule,
            "semver" => Kind::Semver,
            "pep440" => Kind::Pep440,
            "match" => Kind::Match,
            "edge" => Kind::Edge,
            "ref" => Kind::Ref,
            "raw" => Kind::Raw,
            "sha" => Kind::Sha,
            _ => return None,
        })
    }

    fn default_priority(self) -> i64 {
        match self {
            Kind::Schedule => 1000,
            Kind::Semver | Kind::Pep440 => 900,
            Kind::Match => 800,
            Kind::Edge => 700,
            Kind::Ref => 600,
            Kind::Raw => 200,
            Kind::Sha => 100,
        }
    }
}

/// One parsed `tags:` line: its type and attributes, with metadata-action's defaults filled in.
#[derive(Debug, Clone)]
pub struct TagRule {
    pub source: String,
    pub kind: Kind,
    attrs: Vec<(String, String)>,
    pub priority: i64,
}

impl TagRule {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn attr_or_empty(&self, key: &str) -> &str {
        self.attr(key).unwrap_or("")
    }

    fn set_default(&mut self, key: &str, value: &str) {
        if self.attr(key).is_none() {
            self.attrs.push((key.to_string(), value.to_string()));
        }
    }
}

/// True when a tag line is written in metadata-action's syntax rather than ecr-ship's `{…}` templates.
pub fn is_metadata_line(line: &str) -> bool {
    let line = line.trim_start_matches(['"', ' ']);
    line.get(..5).is_some_and(|head| head.eq_ignore_ascii_case("type=")) || line.contains("{{")
}

/// The fields of one CSV record (csv-parse's defaults: `,` separates, `"` quotes, `""` is a quote).
fn csv_fields(line: &str) -> anyhow::Result<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_start => {
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => field.push(c),
                        None => bail_input!("invalid tag line '{line}': a quote (\") is not closed"),
                    }
                }
                match chars.peek() {
                    None | Some(',') => {}
                    Some(_) => bail_input!("invalid tag line '{line}': text after a closing quote"),
                }
                at_start = false;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
            }
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    fields.push(field);
    Ok(fields)
}

/// Parses one `tags:` line as metadata-action's `Parse` does, and checks its expressions up front.
pub fn parse_tag(line: &str) -> anyhow::Result<TagRule> {
    let mut kind = None;
    let mut attrs: Vec<(String, String)> = Vec::new();
    for field in csv_fields(line)? {
        // Split at the first '=' that has a key before it; a field without one is the value.
        match field.split_once('=').filter(|(key, _)| !key.is_empty()) {
            None => upsert(&mut attrs, "value", field.trim()),
            Some((key, value)) => {
                let key = key.trim().to_ascii_lowercase();
                let value = value.trim();
                if key == "type" {
                    kind = Some(Kind::parse(value).ok_or_else(|| {
                        crate::error::bad_input(format!(
                            "invalid tag line '{line}': unknown type '{value}'; known: {}",
                            Kind::NAMES
                        ))
                    })?);
                } else {
                    upsert(&mut attrs, &key, value);
                }
            }
        }
    }
    let kind = kind.unwrap_or(Kind::Raw);
    let mut rule = TagRule { source: line.to_string(), kind, attrs, priority: 0 };
    let missing = |what: &str| {
        crate::error::bad_input(format!("invalid tag line '{line}': type={} needs {what}", rule_name(kind)))
    };
    match kind {
        Kind::Schedule => rule.set_default("pattern", "nightly"),
        Kind::Semver | Kind::Pep440 => {
            if rule.attr("pattern").is_none() {
                return Err(missing("a pattern, e.g. pattern={{version}}"));
            }
            rule.set_default("value", "");
            rule.set_default("match", "");
        }
        Kind::Match => {
            if rule.attr("pattern").is_none() {
                return Err(missing("a pattern, e.g. pattern=\\d.\\d.\\d"));
            }
            rule.set_default("group", "0");
            if rule.attr_or_empty("group").parse::<usize>().is_err() {
                bail_input!("invalid tag line '{line}': group must be a number, not '{}'", rule.attr_or_empty("group"));
            }
            rule.set_default("value", "");
        }
        Kind::Edge => rule.set_default("branch", ""),
        Kind::Ref => {
            match rule.attr("event") {
                None => return Err(missing("an event: event=branch, event=tag or event=pr")),
                Some("branch" | "tag" | "pr") => {}
                Some(other) => bail_input!("invalid tag line '{line}': event must be branch, tag or pr, not '{other}'"),
            }
            if rule.attr("event") == Some("pr") {
                rule.set_default("prefix", "pr-");
            }
        }
        Kind::Raw => {
            if rule.attr("value").is_none() {
                return Err(missing("a value, e.g. type=raw,value=latest"));
            }
        }
        Kind::Sha => {
            rule.set_default("prefix", "sha-");
            rule.set_default("format", "short");
            if !matches!(rule.attr("format"), Some("short" | "long")) {
                bail_input!(
                    "invalid tag line '{line}': format must be short or long, not '{}'",
                    rule.attr_or_empty("format")
                );
            }
        }
    }
    rule.set_default("enable", "true");
    rule.priority = match rule.attr("priority") {
        None => kind.default_priority(),
        Some(text) => text.trim().parse().map_err(|_| {
            crate::error::bad_input(format!("invalid tag line '{line}': priority must be a whole number, not '{text}'"))
        })?,
    };
    // Every expression the rule will render is parsed now, so a typo fails before anything is sent.
    for key in ["value", "prefix", "suffix", "enable", "pattern"] {
        if let Some(text) = rule.attr(key) {
            let parsed = Expr::parse(text)
                .map_err(|error| crate::error::bad_input(format!("invalid tag line '{line}': {key}: {error}")))?;
            for call in parsed.calls() {
                check_call(line, call)?;
            }
        }
    }
    if kind == Kind::Match {
        regex_of(rule.attr_or_empty("pattern")).map_err(|error| {
            crate::error::bad_input(format!("invalid tag line '{line}': pattern is not a regular expression: {error}"))
        })?;
    }
    if !rule.attr_or_empty("match").is_empty() {
        Regex::new(rule.attr_or_empty("match")).map_err(|error| {
            crate::error::bad_input(format!("invalid tag line '{line}': match is not a regular expression: {error}"))
        })?;
    }
    Ok(rule)
}

fn rule_name(kind: Kind) -> String {
    format!("{kind:?}").to_ascii_lowercase()
}

fn upsert(attrs: &mut Vec<(String, String)>, key: &str, value: &str) {
    match attrs.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value.to_string(),
        None => attrs.push((key.to_string(), value.to_string())),
    }
}

fn check_call(line: &str, call: &Call) -> anyhow::Result<()> {
    if matches!(call.name.as_str(), "date" | "commit_date") {
        let probe = DateTime::<Utc>::UNIX_EPOCH;
        expr::format_date(call, probe)
            .map_err(|error| crate::error::bad_input(format!("invalid tag line '{line}': {error}")))?;
    }
    Ok(())
}

/// A `match` pattern: `/re/flags` or a bare regular expression.
fn regex_of(pattern: &str) -> Result<Regex, regex::Error> {
    match pattern.strip_prefix('/').and_then(|rest| rest.rsplit_once('/')) {
        Some((body, flags)) if !body.is_empty() => {
            let inline: String = flags.chars().filter(|f| matches!(f, 'i' | 'm' | 's')).collect();
            if inline.is_empty() { Regex::new(body) } else { Regex::new(&format!("(?{inline}){body}")) }
        }
        _ => Regex::new(pattern),
    }
}

/// `flavor:` lines: `latest=auto|true|false`, `prefix=`, `suffix=` and `onlatest=` after either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flavor {
    pub latest: Latest,
    pub prefix: String,
    pub prefix_latest: bool,
    pub suffix: String,
    pub suffix_latest: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latest {
    Auto,
    Always,
    Never,
}

impl Default for Flavor {
    fn default() -> Flavor {
        Flavor {
            latest: Latest::Auto,
            prefix: String::new(),
            prefix_latest: false,
            suffix: String::new(),
            suffix_latest: false,
        }
    }
}

impl Flavor {
    pub fn parse(lines: &[String]) -> anyhow::Result<Flavor> {
        let mut flavor = Flavor::default();
        for line in lines {
            let mut onlatest_for = "";
            for field in csv_fields(line)? {
                let Some((key, value)) = field.split_once('=') else {
                    bail_input!(
                        "invalid flavor '{line}': '{field}' is not key=value (latest, prefix, suffix, onlatest)"
                    )
                };
                let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
                match key.as_str() {
                    "latest" => {
                        flavor.latest = match value {
                            "auto" => Latest::Auto,
                            "true" => Latest::Always,
                            "false" => Latest::Never,
                            _ => bail_input!(
                                "invalid flavor '{line}': latest must be auto, true or false, not '{value}'"
                            ),
                        }
                    }
                    "prefix" => {
                        flavor.prefix = value.to_string();
                        onlatest_for = "prefix";
                    }
                    "suffix" => {
                        flavor.suffix = value.to_string();
                        onlatest_for = "suffix";
                    }
                    "onlatest" => {
                        let on = match value {
                            "true" => true,
                            "false" => false,
                            _ => bail_input!("invalid flavor '{line}': onlatest must be true or false, not '{value}'"),
                        };
                        match onlatest_for {
                            "prefix" => flavor.prefix_latest = on,
                            "suffix" => flavor.suffix_latest = on,
                            _ => {}
                        }
                    }
                    _ => bail_input!(
                        "invalid flavor '{line}': unknown key '{key}'; known: latest, prefix, suffix, onlatest"
                    ),
                }
            }
        }
        for text in [&flavor.prefix, &flavor.suffix] {
            Expr::parse(text).map_err(|error| crate::error::bad_input(format!("invalid flavor: {error}")))?;
        }
        Ok(flavor)
    }

    fn latest_or(&self, auto: bool) -> bool {
        match self.latest {
            Latest::Auto => auto,
            Latest::Always => true,
            Latest::Never => false,
        }
    }
}

/// The default `tags:` when none are given (metadata-action's).
pub fn default_rules() -> Vec<TagRule> {
    ["type=schedule", "type=ref,event=branch", "type=ref,event=tag", "type=ref,event=pr"]
        .iter()
        .map(|line| parse_tag(line))
        .collect::<anyhow::Result<_>>()
        .unwrap_or_default()
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
        Expr::parse(text)?.render(&|call: &Call| {
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
                let rendered =
                    Expr::parse(rule.attr_or_empty("pattern"))?.render(&|call: &Call| match call.name.as_str() {
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
                    let rendered = Expr::parse(semver_pattern)?.render(&|call: &Call| Ok(parsed.field(&call.name)))?;
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
                    let rendered = Expr::parse(pattern)?.render(&|call: &Call| {
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
    let calls: Vec<&Call> = parsed.calls().collect();
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
    fn lines_split_as_csv_records_with_quotes() {
        let rule = parse_tag(r#"type=match,"pattern=\d.\d.\d",group=0"#).unwrap();
        assert_eq!(rule.kind, Kind::Match);
        assert_eq!(rule.attr("pattern"), Some(r"\d.\d.\d"));
        let rule = parse_tag("type=raw,{{branch}}").unwrap();
        assert_eq!(rule.attr("value"), Some("{{branch}}"), "a field without '=' is the value");
        let rule = parse_tag("foo").unwrap();
        assert_eq!((rule.kind, rule.priority), (Kind::Raw, 200));
        assert!(parse_tag(r#"type=raw,"value=open"#).is_err());
        assert!(parse_tag("type=wrong").is_err());
        assert!(parse_tag("type=ref").is_err(), "ref needs an event");
        assert!(parse_tag("type=sha,format=medium").is_err());
        assert!(parse_tag("type=raw,value=x,priority=high").is_err());
        assert!(
            parse_tag("type=raw,value={{date 'YYYY' tz='Nowhere/City'}}").is_err(),
            "time zones are checked up front"
        );
    }

    #[test]
    fn metadata_lines_are_told_apart_from_ecr_ship_templates() {
        for (line, expected) in [
            ("type=sha", true),
            ("TYPE=raw,value=x", true),
            ("v{{sha}}", true),
            ("{branch}-{sha:7}", false),
            ("latest", false),
        ] {
            assert_eq!(is_metadata_line(line), expected, "{line}");
        }
    }

    #[test]
    fn sanitize_replaces_runs_of_foreign_characters() {
        assert_eq!(sanitize("feature/a b&c"), "feature-a-b-c");
        assert_eq!(sanitize("v1.2.3_RC-1"), "v1.2.3_RC-1");
    }
}
