//! ecr-ship: assume an AWS role, log in to Amazon ECR, tag by branch and commit, push, and hand the image URI to
//! the next CI step.
//!
//! The binary in `main.rs` only maps errors to exit codes; everything else lives here, one module per concern.
//! The flow is always parse, then validate, then act: a command builds a checked plan from flags, environment,
//! config file and CI context before the first network call.

pub mod aws;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod config;
pub mod digest;
pub mod engine;
pub mod error;
pub mod host;
pub mod log;
pub mod media_type;
pub mod names;
pub mod oci;
pub mod outputs;
pub mod secret;
pub mod tag_policy;
pub mod tags;
