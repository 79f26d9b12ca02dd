//! The one integration-test binary: every test here spawns the real `ecr-ship` binary or talks to real stand-ins
//! (moto, Debian's docker-registry, dockerd, podman) started and stopped by the tests themselves.
//!
//! Plain `cargo test` compiles only the tests that need no service: no docker, podman, skopeo, python3, act or
//! network. `--features stand-ins` adds those that start the local stand-ins; `--features shipping` adds the static
//! release binaries, the action under act, the CodeBuild phases and the Jenkins steps. A test whose tool is missing
//! fails with a line naming it; none is skipped.

// Tests may unwrap, expect and print: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout, clippy::print_stderr)]

mod aws;
mod aws_cli;
mod bad_input;
mod compression;
mod config;
mod credential_helper;
mod docs;
#[cfg(feature = "stand-ins")]
mod ecr_fidelity;
mod ecr_public;
#[cfg(feature = "stand-ins")]
mod ecr_public_fidelity;
mod engine;
mod errors;
mod examples;
mod fuzz_seeds;
#[cfg(feature = "stand-ins")]
mod harness;
mod layering;
mod lifecycle;
mod merge;
mod metadata_action;
mod native_push;
mod oci_archive;
mod output_files;
mod policy;
#[cfg(feature = "stand-ins")]
mod prune;
#[cfg(feature = "stand-ins")]
mod push;
#[cfg(feature = "stand-ins")]
mod scan;
mod setup;
mod shipping;
mod storage;
mod support;
mod tags;
