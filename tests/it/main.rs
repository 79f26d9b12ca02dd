//! The one integration-test binary: every test here spawns the real `ecr-ship` binary or talks to real stand-ins
//! (moto, Debian's docker-registry, dockerd, podman) started and stopped by the tests themselves.

// Tests may unwrap, expect and print: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout, clippy::print_stderr)]

mod aws;
mod aws_cli;
mod compression;
mod config;
mod docs;
mod ecr_fidelity;
mod ecr_public;
mod ecr_public_fidelity;
mod engine;
mod errors;
mod fuzz_seeds;
mod harness;
mod layering;
mod merge;
mod metadata_action;
mod native_push;
mod oci_archive;
mod push;
mod scan;
mod setup;
mod shipping;
mod support;
mod tags;
