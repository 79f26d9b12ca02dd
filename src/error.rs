//! Error kinds that decide the process exit code.
//!
//! Everything inside the library returns `anyhow::Result`. Errors caused by the user's input or configuration are
//! raised as [`BadInput`] (exit 2, and by construction nothing has been sent anywhere yet, because input is checked
//! before the first network call); every other error is a failure talking to AWS, a registry or a local tool (exit 1).

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

/// Maps an error to its exit code by looking for a [`BadInput`] anywhere in its cause chain.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|cause| cause.is::<BadInput>()) { EXIT_BAD_INPUT } else { EXIT_FAILURE }
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
}
