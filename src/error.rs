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

/// Builds a [`BadInput`] error; the message must name the offending value and what is allowed.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(message.into()))
}

/// Returns early with a [`BadInput`] error.
#[macro_export]
macro_rules! bail_input {
    ($($arg:tt)*) => {
        return Err($crate::error::bad_input(format!($($arg)*)))
    };
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
    fn a_failed_gate_is_exit_3_even_after_contact() {
        let gate = anyhow::Error::new(GateFailed("1 finding at or above HIGH".into()));
        assert_eq!(exit_code(&gate), EXIT_GATE_FAILED);
        assert_eq!(exit_code(&after_contact(gate)), EXIT_GATE_FAILED);
    }
}
