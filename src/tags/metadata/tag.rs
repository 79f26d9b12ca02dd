//! metadata-action's `src/tag.ts`: one `tags:` line (`type=semver,pattern={{version}}`, ...) parsed as a CSV
//! record into a checked [`TagRule`], with metadata-action's defaults and priorities filled in and every
//! expression, date format and regular expression checked up front, so a typo is bad input before anything is
//! sent. Also tells metadata-action's lines apart from ecr-ship's `{…}` templates. Pure.

use chrono::{DateTime, Utc};
use regex_lite::Regex;

use crate::bail_input;
use crate::tags::expr::{self, Expr, HelperCall};

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
    pub(super) fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub(super) fn attr_or_empty(&self, key: &str) -> &str {
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

/// The fields of one `tags:`/`flavor:` line, as metadata-action's csv-parse reads them (strict quotes).
pub(super) fn csv_fields(line: &str) -> anyhow::Result<Vec<String>> {
    super::csv::entry_fields(line)
        .map_err(|reason| crate::error::bad_input(format!("invalid tag line '{line}': {reason}")))
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

fn check_call(line: &str, call: &HelperCall) -> anyhow::Result<()> {
    if matches!(call.name.as_str(), "date" | "commit_date") {
        let probe = DateTime::<Utc>::UNIX_EPOCH;
        expr::format_date(call, probe)
            .map_err(|error| crate::error::bad_input(format!("invalid tag line '{line}': {error}")))?;
    }
    Ok(())
}

/// A `match` pattern: `/re/flags` or a bare regular expression.
pub(super) fn regex_of(pattern: &str) -> Result<Regex, regex_lite::Error> {
    match pattern.strip_prefix('/').and_then(|rest| rest.rsplit_once('/')) {
        Some((body, flags)) if !body.is_empty() => {
            let inline: String = flags.chars().filter(|f| matches!(f, 'i' | 'm' | 's')).collect();
            if inline.is_empty() { Regex::new(body) } else { Regex::new(&format!("(?{inline}){body}")) }
        }
        _ => Regex::new(pattern),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_patterns_have_javascripts_ascii_classes() {
        // (pattern, text, whether JavaScript's RegExp#exec finds a match without the `u` flag)
        let cases: &[(&str, &str, bool)] = &[
            (r"^\d+$", "123", true),
            (r"^\d+$", "١٢٣", false), // Arabic-Indic digits are not \d in JavaScript
            (r"^\w+$", "build_7", true),
            (r"^\w+$", "größe", false),
            (r"\bv1\b", "app-v1", true),
            (r"/^V(\d)$/i", "v7", true),
            (r"/^a.b$/s", "a\nb", true),
            (r"/^a.b$/", "a\nb", false),
        ];
        for (pattern, text, matches) in cases {
            let regex = regex_of(pattern).unwrap();
            assert_eq!(regex.is_match(text), *matches, "{pattern} on {text:?}");
        }
        // What JavaScript accepts only with the `u` flag is refused, in one line that names the line.
        let error = parse_tag(r#"type=match,"pattern=\p{L}+""#).unwrap_err();
        assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT);
        let message = error.to_string();
        assert!(message.contains(r"pattern=\p{L}+") && !message.contains('\n'), "{message}");
    }

    #[test]
    fn a_quote_inside_a_field_is_refused_as_metadata_actions_csv_parse_refuses_it() {
        // (line, the value it gives, or None when csv-parse refuses it)
        let cases: &[(&str, Option<&str>)] = &[
            (r#"type=raw,value=x""#, None),
            (r#"type=raw,value="x"y"#, None),
            (r#"type=raw,"value=x"y"#, None),
            (r#"type=raw,value=x"y"#, None),
            (r#"type=raw,"value=x"#, None),
            (r#"type=raw,value=a""b"#, None),
            (r#"type=raw,"value=x""#, Some("x")),
            (r#"type=raw,"value=a,b""#, Some("a,b")),
            (r#"type=raw,"value=a""b""#, Some(r#"a"b"#)),
            (r#""type=raw","value=x""#, Some("x")),
            (r#"type=raw,"""#, Some("")),
        ];
        for (line, expected) in cases {
            match (parse_tag(line), expected) {
                (Ok(rule), Some(value)) => assert_eq!(rule.attr("value"), Some(*value), "{line}"),
                (Err(error), None) => {
                    assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT);
                    assert!(error.to_string().contains(line), "names the line: {error}");
                }
                (result, expected) => panic!("{line}: {result:?}, expected {expected:?}"),
            }
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
}
