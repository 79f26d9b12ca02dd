//! Progress and diagnostics on standard error; standard output is reserved for the result.
//!
//! Everything a human reads goes through here, so nothing can slip onto stdout, where `IMAGE=$(ecr-ship push …)`
//! and Jenkins' `returnStdout` would capture it.

/// An informational line.
pub fn info(message: impl AsRef<str>) {
    eprintln!("ecr-ship: {}", message.as_ref());
}

/// A warning; in GitHub Actions also an annotation on the run.
pub fn warn(message: impl AsRef<str>, github: bool) {
    if github {
        eprintln!("{}", crate::outputs::github_warning_annotation(message.as_ref()));
    } else {
        eprintln!("ecr-ship: warning: {}", message.as_ref());
    }
}
