//! The part of Handlebars that docker/metadata-action's tag lines use: text with `{{name}}`, `{{{name}}}` and
//! `{{name 'ARG' key='VALUE'}}` mustaches, rendered against a resolver, plus moment.js's date format tokens for
//! `{{date 'FORMAT' tz='ZONE'}}`.
//!
//! As in Handlebars, an unknown name renders as nothing and `{{…}}` output is HTML-escaped (`{{{…}}}` is not), so
//! a branch `a&b` gives `a&amp;b` before the tag is sanitized, exactly as metadata-action's tags come out. A
//! mustache that does not parse is bad input, named in the error.

use chrono::{DateTime, Datelike, Offset, TimeZone, Timelike, Utc};

use crate::bail_input;

/// One `{{…}}`: a name, positional arguments and `key=value` pairs. An unquoted argument is a Handlebars path
/// lookup, which finds nothing in metadata-action's contexts: it is `None` (JavaScript's `undefined`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperCall {
    pub name: String,
    pub args: Vec<Option<String>>,
    pub hash: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Mustache { call: HelperCall, escape: bool },
}

/// A parsed expression: text and mustaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pieces: Vec<Piece>,
}

impl Expr {
    pub fn parse(source: &str) -> anyhow::Result<Expr> {
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let triple = rest[start..].starts_with("{{{");
            let (open, close) = if triple { ("{{{", "}}}") } else { ("{{", "}}") };
            let body_start = start + open.len();
            let Some(length) = rest[body_start..].find(close) else {
                bail_input!("invalid expression '{source}': '{open}' without a closing '{close}'")
            };
            let body = rest[body_start..body_start + length].trim().trim_start_matches('~').trim_end_matches('~');
            if !body.starts_with('!') {
                pieces.push(Piece::Mustache { call: parse_call(source, body.trim())?, escape: !triple });
            }
            rest = &rest[body_start + length + close.len()..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Expr { pieces })
    }

    /// Every call in the expression, in order (for up-front checks of names and arguments).
    pub fn calls(&self) -> impl Iterator<Item = &HelperCall> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Mustache { call, .. } => Some(call),
            Piece::Text(_) => None,
        })
    }

    /// Renders the expression; `resolve` answers a call (`None`: unknown, renders as nothing).
    pub fn render(&self, resolve: &dyn Fn(&HelperCall) -> anyhow::Result<Option<String>>) -> anyhow::Result<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Mustache { call, escape } => {
                    let value = resolve(call)?.unwrap_or_default();
                    if *escape { out.push_str(&escape_html(&value)) } else { out.push_str(&value) }
                }
            }
        }
        Ok(out)
    }
}

fn parse_call(source: &str, body: &str) -> anyhow::Result<HelperCall> {
    let mut words = Vec::new();
    let mut chars = body.char_indices().peekable();
    while let Some(&(index, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        // A word runs to the next whitespace outside quotes; quotes may open anywhere (`tz='Asia/Tokyo'`).
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut quoted = false;
        while let Some(&(_, c)) = chars.peek() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => word.push(c),
                None if c == '\'' || c == '"' => {
                    quote = Some(c);
                    quoted = true;
                }
                None if c.is_whitespace() => break,
                None => word.push(c),
            }
            chars.next();
        }
        if quote.is_some() {
            bail_input!("invalid expression '{source}': an unclosed quote at '{}'", &body[index..]);
        }
        words.push((word, quoted));
    }
    let mut words = words.into_iter();
    let Some((name, false)) = words.next() else {
        bail_input!("invalid expression '{source}': '{{{{{body}}}}}' needs a name such as branch, tag, sha or date")
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
        bail_input!("invalid expression '{source}': '{name}' is not a name");
    }
    let mut call = HelperCall { name, args: Vec::new(), hash: Vec::new() };
    for (word, quoted) in words {
        match word.split_once('=') {
            Some((key, value)) if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                call.hash.push((key.to_string(), value.to_string()))
            }
            _ if quoted => call.args.push(Some(word)),
            _ => call.args.push(None),
        }
    }
    Ok(call)
}

/// Handlebars' escapeExpression.
fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '`' => out.push_str("&#x60;"),
            '=' => out.push_str("&#x3D;"),
            _ => out.push(c),
        }
    }
    out
}

/// `{{date 'FORMAT' tz='ZONE'}}` and `{{commit_date …}}`: the instant formatted with moment.js tokens in the zone
/// (UTC by default). Any hash key but `tz` is an error, as in metadata-action.
pub fn format_date(call: &HelperCall, instant: DateTime<Utc>) -> anyhow::Result<String> {
    let mut zone: chrono_tz::Tz = chrono_tz::UTC;
    for (key, value) in &call.hash {
        match key.as_str() {
            "tz" => zone = value.parse().map_err(|_| {
                crate::error::bad_input(format!(
                    "invalid time zone '{value}' in {{{{{} …}}}}: expected an IANA name such as UTC or Europe/Paris",
                    call.name
                ))
            })?,
            other => bail_input!("unknown attribute '{other}' of {{{{{}}}}}: only tz='ZONE' is allowed", call.name),
        }
    }
    let local = instant.with_timezone(&zone);
    // moment's default formats: `Z` as a literal for UTC, else the offset.
    let default =
        if local.offset().fix().local_minus_utc() == 0 { "YYYY-MM-DDTHH:mm:ss[Z]" } else { "YYYY-MM-DDTHH:mm:ssZ" };
    let format = call.args.first().cloned().flatten();
    Ok(moment_format(&local, format.as_deref().unwrap_or(default)))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// moment.js `format()`: the tokens metadata-action users write, `[…]` as literal text, anything else as is.
pub fn moment_format<Z: TimeZone>(time: &DateTime<Z>, format: &str) -> String {
    const TOKENS: [&str; 38] = [
        "YYYYYY", "YYYY", "YY", "Q", "MMMM", "MMM", "MM", "Mo", "M", "DDDD", "DDD", "DD", "Do", "D", "dddd", "ddd",
        "dd", "do", "d", "HH", "H", "hh", "h", "kk", "k", "mm", "m", "ss", "s", "SSS", "SS", "S", "A", "a", "ZZ", "Z",
        "X", "x",
    ];
    let mut out = String::new();
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some(end) = rest.find(']')
        {
            out.push_str(&rest[1..end]);
            rest = &rest[end + 1..];
            continue;
        }
        match TOKENS.iter().find(|token| rest.starts_with(**token)) {
            Some(token) => {
                out.push_str(&token_value(time, token));
                rest = &rest[token.len()..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn token_value<Z: TimeZone>(time: &DateTime<Z>, token: &str) -> String {
    let hour12 = match time.hour() % 12 {
        0 => 12,
        h => h,
    };
    let offset = time.offset().fix().local_minus_utc();
    let zone = |separator: &str| {
        let sign = if offset < 0 { '-' } else { '+' };
        let minutes = offset.abs() / 60;
        format!("{sign}{:02}{separator}{:02}", minutes / 60, minutes % 60)
    };
    let weekday = time.weekday().num_days_from_sunday() as usize;
    match token {
        "YYYYYY" => format!("{:+07}", time.year()),
        "YYYY" => format!("{:04}", time.year()),
        "YY" => format!("{:02}", time.year().rem_euclid(100)),
        "Q" => ((time.month() - 1) / 3 + 1).to_string(),
        "MMMM" => MONTHS[time.month0() as usize].to_string(),
        "MMM" => MONTHS[time.month0() as usize][..3].to_string(),
        "MM" => format!("{:02}", time.month()),
        "Mo" => ordinal(time.month()),
        "M" => time.month().to_string(),
        "DDDD" => format!("{:03}", time.ordinal()),
        "DDD" => time.ordinal().to_string(),
        "DD" => format!("{:02}", time.day()),
        "Do" => ordinal(time.day()),
        "D" => time.day().to_string(),
        "dddd" => WEEKDAYS[weekday].to_string(),
        "ddd" => WEEKDAYS[weekday][..3].to_string(),
        "dd" => WEEKDAYS[weekday][..2].to_string(),
        "do" => ordinal(weekday as u32),
        "d" => weekday.to_string(),
        "HH" => format!("{:02}", time.hour()),
        "H" => time.hour().to_string(),
        "hh" => format!("{hour12:02}"),
        "h" => hour12.to_string(),
        "kk" => format!("{:02}", if time.hour() == 0 { 24 } else { time.hour() }),
        "k" => (if time.hour() == 0 { 24 } else { time.hour() }).to_string(),
        "mm" => format!("{:02}", time.minute()),
        "m" => time.minute().to_string(),
        "ss" => format!("{:02}", time.second()),
        "s" => time.second().to_string(),
        "SSS" => format!("{:03}", time.timestamp_subsec_millis()),
        "SS" => format!("{:02}", time.timestamp_subsec_millis() / 10),
        "S" => (time.timestamp_subsec_millis() / 100).to_string(),
        "A" => (if time.hour() < 12 { "AM" } else { "PM" }).to_string(),
        "a" => (if time.hour() < 12 { "am" } else { "pm" }).to_string(),
        "ZZ" => zone(""),
        "Z" => zone(":"),
        "X" => time.timestamp().to_string(),
        "x" => time.timestamp_millis().to_string(),
        _ => token.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, value: &str) -> String {
        Expr::parse(source).unwrap().render(&|call| Ok((call.name == "v").then(|| value.to_string()))).unwrap()
    }

    #[test]
    fn mustaches_render_escape_and_drop_unknown_names() {
        assert_eq!(render("a-{{v}}-b", "x"), "a-x-b");
        assert_eq!(render("{{ v }}", "x"), "x");
        assert_eq!(render("{{v}}", "a&b"), "a&amp;b");
        assert_eq!(render("{{{v}}}", "a&b"), "a&b");
        assert_eq!(render("{{nothing}}x", "y"), "x");
        assert_eq!(render("plain", "y"), "plain");
        assert!(Expr::parse("{{v").is_err());
        let unquoted = Expr::parse("{{date YYYY}}").unwrap();
        assert_eq!(unquoted.calls().next().unwrap().args, [None], "an unquoted argument is a path lookup");
    }

    #[test]
    fn calls_take_quoted_arguments_and_hash_pairs() {
        let expr = Expr::parse("{{date 'YYYYMMDD-HHmm' tz='Asia/Tokyo'}}").unwrap();
        let call = expr.calls().next().unwrap();
        assert_eq!(call.name, "date");
        assert_eq!(call.args, [Some("YYYYMMDD-HHmm".to_string())]);
        assert_eq!(call.hash, [("tz".to_string(), "Asia/Tokyo".to_string())]);
    }

    #[test]
    fn dates_format_like_moment_in_a_zone() {
        let instant = Utc.with_ymd_and_hms(2020, 1, 10, 0, 30, 0).unwrap();
        let call = |format: &str, tz: Option<&str>| HelperCall {
            name: "date".into(),
            args: vec![Some(format.into())],
            hash: tz.map(|tz| vec![("tz".to_string(), tz.to_string())]).unwrap_or_default(),
        };
        let cases = [
            ("YYYYMMDD", None, "20200110"),
            ("YYYYMMDD-HHmmss", Some("Asia/Tokyo"), "20200110-093000"),
            ("YYYY-MM-DDTHH:mm:ssZ", Some("America/New_York"), "2020-01-09T19:30:00-05:00"),
            ("[v]YY.M.D h:mm A", None, "v20.1.10 12:30 AM"),
            ("X", None, "1578616200"),
        ];
        let no_format = HelperCall { args: vec![None], ..call("", None) };
        assert_eq!(format_date(&no_format, instant).unwrap(), "2020-01-10T00:30:00Z");
        for (format, tz, expected) in cases {
            assert_eq!(format_date(&call(format, tz), instant).unwrap(), expected, "{format} {tz:?}");
        }
        assert!(format_date(&call("YYYY", Some("Mars/Olympus")), instant).is_err());
        let bad = HelperCall { hash: vec![("zone".into(), "UTC".into())], ..call("YYYY", None) };
        assert!(format_date(&bad, instant).is_err());
    }
}
