//! Progress and diagnostics on standard error; standard output is reserved for the result.
//!
//! Everything a human reads goes through here, so nothing can slip onto stdout, where `IMAGE=$(ecr-ship push …)`
//! and Jenkins' `returnStdout` would capture it.

// The one module that writes to stderr (`[lints]` denies printing everywhere else).
#![allow(clippy::print_stderr)]

/// A line relayed as it is (an engine's progress), already made safe by the caller.
pub fn relay(line: &str) {
    eprintln!("{line}");
}

/// A failure and the chain of its causes, one line each (control characters escaped, long values cut:
/// [`crate::error::printable`]).
pub fn error_chain(error: &anyhow::Error) {
    eprintln!("ecr-ship: error: {}", crate::error::printable(&error.to_string()));
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {}", crate::error::printable(&cause.to_string()));
    }
}

/// An informational line.
pub fn info(message: impl AsRef<str>) {
    eprintln!("ecr-ship: {}", message.as_ref());
}

/// A warning; in GitHub Actions also an annotation on the run.
pub fn warn(message: impl AsRef<str>, github: bool) {
    if github {
        eprintln!("{}", github_annotation("warning", message.as_ref()));
    } else {
        eprintln!("ecr-ship: warning: {}", message.as_ref());
    }
}

/// An error in the GitHub Actions log; the runner reads workflow commands from stderr too.
pub fn github_error(message: &str) {
    eprintln!("{}", github_annotation("error", message));
}

/// A GitHub Actions workflow-command annotation, escaped as actions/toolkit does.
fn github_annotation(level: &str, message: &str) -> String {
    let escaped = message.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    format!("::{level} title=ecr-ship::{escaped}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn annotations_escape_newlines_and_percent() {
        assert_eq!(super::github_annotation("error", "a\nb 100%"), "::error title=ecr-ship::a%0Ab 100%25");
        assert_eq!(super::github_annotation("warning", "x\ry"), "::warning title=ecr-ship::x%0Dy");
    }
}
