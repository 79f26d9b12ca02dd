//! The one integration-test binary: every test here spawns the real `ecr-ship` binary or talks to real stand-ins
//! (moto, Debian's docker-registry, dockerd, podman) started and stopped by the tests themselves.

mod aws;
mod aws_cli;
mod compression;
mod config;
mod ecr_fidelity;
mod ecr_public;
mod ecr_public_fidelity;
mod engine;
mod errors;
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
