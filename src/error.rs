//! Error kinds that decide the process exit code.
//!
//! Everything inside the library returns `anyhow::Result`. Errors caused by the user's input or configuration are
//! raised as [`BadInput`] (exit 2, and by construction nothing has been sent anywhere yet, because input is checked
//! before the first network call); every other error is a failure talking to AWS, a registry or a local tool (exit 1).
//! Once a command has started acting, its errors are marked with [`after_contact`]: from then on nothing is exit 2,
//! even a value a server returned that fails a check written for user input.

use std::fmt;

/// A problem with the command line, the environment or the config file, found before anything was contacted.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Builds a [`BadInput`] error; the message must name the offending value and what is allowed. The message is made
/// one line ([`one_line`]): the values it echoes came from the user, and none may break the line or run on for
/// megabytes.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(one_line(&message.into())))
}

/// Returns early with a [`BadInput`] error.
#[macro_export]
macro_rules! bail_input {
    ($($arg:tt)*) => {
        return Err($crate::error::bad_input(format!($($arg)*)))
    };
}

/// How many characters of a value an error message shows; the rest is cut, and the message says how much.
pub const SHOWN_CHARS: usize = 200;
/// How long one printed error line may grow (the sentence around its values), whatever its values are.
pub const MESSAGE_CHARS: usize = 2_000;

/// A value as an error message shows it: control characters escaped (a newline as `\n`, ESC as `\u{1b}`), so it
/// cannot break the message's line or drive the terminal, and cut after [`SHOWN_CHARS`] characters with the number
/// cut said (`…[+9800 more characters]`). Messages that echo what a user, a file or a server gave use this; every
/// [`bad_input`] message goes through [`one_line`], and the final report prints every message through
/// [`printable`].
pub fn shown(value: &str) -> String {
    cut(&escape_controls(value), SHOWN_CHARS)
}

/// A whole message made safe to print on one line: control characters escaped, every run of more than
/// [`SHOWN_CHARS`] characters without a space (a long value, as a 10 MB `--repository`) cut, and the whole cut
/// after [`MESSAGE_CHARS`]. A message of ordinary length passes unchanged.
pub fn one_line(message: &str) -> String {
    let escaped = escape_controls(message);
    let mut out = String::with_capacity(escaped.len().min(MESSAGE_CHARS + 64));
    let mut rest = escaped.as_str();
    while !rest.is_empty() {
        let (token, space) = match rest.find(' ') {
            Some(i) => (&rest[..i], " "),
            None => (rest, ""),
        };
        out.push_str(&cut(token, SHOWN_CHARS));
        out.push_str(space);
        rest = &rest[token.len() + space.len()..];
    }
    cut(&out, MESSAGE_CHARS)
}

/// A message of the cause chain as the final report prints it: as [`one_line`], except that a line break followed
/// by indentation stays (the layout of a message that lists things, as the AWS SDK's credential chain does, one
/// provider a line); any other line break, and one whose next line would start a GitHub workflow command (`::`), is
/// a value's and is escaped.
pub fn printable(message: &str) -> String {
    let lines: Vec<&str> = message.split('\n').collect();
    let mut out = String::new();
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            let layout = line.starts_with([' ', '\t']) && !line.trim_start().starts_with("::");
            out.push_str(if layout { "\n" } else { "\\n" });
        }
        out.push_str(&one_line(line));
    }
    cut(&out, MESSAGE_CHARS)
}

fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
}

/// `text` cut after `limit` characters, saying how many more there were.
fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_string(),
        Some((end, _)) => {
            let more = text[end..].chars().count();
            format!("{}…[+{more} more characters]", &text[..end])
        }
    }
}

/// Exit code for a successful run.
pub const EXIT_OK: u8 = 0;
/// Exit code when talking to AWS, the registry or the container engine failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for bad input or configuration (nothing was contacted).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code when the vulnerability gate failed (`--scan-fail-on`): everything else worked.
pub const EXIT_GATE_FAILED: u8 = 3;

/// The vulnerability gate found a finding at or above its threshold; the message says which.
#[derive(Debug)]
pub struct GateFailed(pub String);

impl fmt::Display for GateFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GateFailed {}

/// An error raised after the first network call. It reads exactly as the error it wraps (same message, same
/// causes); it only tells [`exit_code`] that this is a failure, not bad input.
#[derive(Debug)]
struct AfterContact(anyhow::Error);

impl fmt::Display for AfterContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0.as_ref() as &dyn std::error::Error, f)
    }
}

impl std::error::Error for AfterContact {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.chain().nth(1)
    }
}

/// Marks an error of the acting phase: its exit code is 1 whatever its causes say.
pub fn after_contact(error: anyhow::Error) -> anyhow::Error {
    if error.is::<AfterContact>() { error } else { anyhow::Error::new(AfterContact(error)) }
}

/// Maps an error to its exit code: 3 for a failed gate, 1 once the command had started acting, else 2 when a
/// [`BadInput`] is anywhere in its cause chain.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    // An AfterContact reads as the error it wraps, so that error is not in the chain apart: look inside it too.
    let inner = error.downcast_ref::<AfterContact>().map(|marked| &marked.0);
    if error.chain().chain(inner.into_iter().flat_map(|e| e.chain())).any(|cause| cause.is::<GateFailed>()) {
        EXIT_GATE_FAILED
    } else if error.is::<AfterContact>() {
        EXIT_FAILURE
    } else if error.chain().any(|cause| cause.is::<BadInput>()) {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn bad_input_anywhere_in_the_chain_means_exit_2() {
        assert_eq!(exit_code(&anyhow::anyhow!("connection refused")), EXIT_FAILURE);
        let wrapped: anyhow::Result<()> = Err(bad_input("bad repository 'A'")).context("reading options");
        assert_eq!(exit_code(&wrapped.unwrap_err()), EXIT_BAD_INPUT);
    }

    #[test]
    fn after_contact_is_exit_1_and_reads_the_same() {
        let server_value: anyhow::Result<()> =
            Err(bad_input("invalid registry host 'x'")).context("GetAuthorizationToken returned proxy endpoint 'x'");
        let error = server_value.unwrap_err();
        let before: Vec<String> = error.chain().map(ToString::to_string).collect();
        let marked = after_contact(error);
        assert_eq!(exit_code(&marked), EXIT_FAILURE);
        assert_eq!(marked.chain().map(ToString::to_string).collect::<Vec<_>>(), before);
        assert_eq!(format!("{marked:#}"), before.join(": "));
        assert_eq!(exit_code(&after_contact(marked)), EXIT_FAILURE);
    }

    #[test]
    fn values_are_cut_and_escaped_and_ordinary_messages_pass_unchanged() {
        assert_eq!(shown("team/app"), "team/app");
        assert_eq!(shown("a\nb\u{1b}[31m\r\t"), r"a\nb\u{1b}[31m\r\t");
        let long = "x".repeat(10_000);
        assert_eq!(shown(&long), format!("{}…[+9800 more characters]", "x".repeat(200)));
        let message = format!("invalid repository name '{long}': use lower case");
        let line = one_line(&message);
        assert!(
            line.starts_with("invalid repository name 'xxx") && line.ends_with("more characters] use lower case"),
            "{line}"
        );
        assert!(line.contains("more characters") && line.chars().count() < 300, "{line}");
        let ordinary = "invalid --image '-x': it must not start with '-' (see --help)";
        assert_eq!(one_line(ordinary), ordinary);
        let spaced = "a ".repeat(5_000);
        assert!(one_line(&spaced).chars().count() < MESSAGE_CHARS + 40);
        assert_eq!(one_line("first\nsecond"), r"first\nsecond");
        assert_eq!(
            printable("chain:\n  Environment: skipped\n  Profile: x"),
            "chain:\n  Environment: skipped\n  Profile: x"
        );
        assert_eq!(printable("value 'a\nb' and\n  ::error::forged"), r"value 'a\nb' and\n  ::error::forged");
        let error = bad_input("invalid repository name 'team/\u{1b}[31mapp\nnext'");
        assert_eq!(error.to_string(), r"invalid repository name 'team/\u{1b}[31mapp\nnext'");
    }

    #[test]
    fn a_failed_gate_is_exit_3_even_after_contact() {
        let gate = anyhow::Error::new(GateFailed("1 finding at or above HIGH".into()));
        assert_eq!(exit_code(&gate), EXIT_GATE_FAILED);
        assert_eq!(exit_code(&after_contact(gate)), EXIT_GATE_FAILED);
    }
}
