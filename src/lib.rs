//! ecr-ship: assume an AWS role, log in to Amazon ECR, tag by branch and commit, push, and hand the image URI to
//! the next CI step.
//!
//! The binary in `main.rs` only maps errors to exit codes; everything else lives here, one module per concern.
//! The flow is always parse, then validate, then act: a command builds a checked plan from flags, environment,
//! config file and CI context before the first network call.

// The binary uses `cli`, `commands`, `ci` and `error`; the integration tests drive the services in-process
// (`aws`, `oci`, `engine`) and use the shared vocabulary (`digest`, `media_type`, `names`, `error`). Everything
// else is reached only through the commands.
pub mod advice;
pub mod aws;
pub mod ci;
pub mod cli;
pub mod commands;
mod config;
pub mod credential_helper;
pub mod digest;
pub mod engine;
pub mod error;
pub mod files;
#[cfg(feature = "fuzz-entries")]
#[doc(hidden)]
pub mod fuzz;
mod host;
mod log;
pub mod media_type;
pub mod names;
pub mod oci;
mod outputs;
mod prune;
mod scan;
mod secret;
mod tag_policy;
mod tags;
pub mod tls;
