//! Native, daemonless image push: reads an OCI image layout (a directory, or the tar of one: an OCI archive) or a
//! `docker save` archive from disk and pushes it to a registry (ECR in production) over the OCI distribution API, without docker, podman or skopeo.
//!
//! The public API is [`ImageSource`] (planned once into a [`SourcePlan`]), [`Registry`], [`RegistryAuth`],
//! [`PushOptions`] and [`push`]. A source is resolved into a plan before anything is contacted (bad input fails
//! with exit 2 and nothing sent); the push then makes every blob present (HEAD, else POST + one streamed PUT), then puts the child
//! manifests by digest, and only then the top-level manifest once per tag. A manifest is therefore never published
//! while one of its blobs could be missing.
//!
//! This file only declares the parts and re-exports the public API. The layers, each importing only the ones
//! below it:
//! - leaves: `error` (typed failures), `progress` (stderr drawing), `plan` (what a source resolves to), `auth`
//!   (credentials);
//! - `transport` (the [`Registry`], retries, backoff, the one 401 refresh, status to error) over `auth`;
//! - `upload` (blob HEAD, POST + streamed PUT) and `manifest` (manifest PUT and GET) over `transport`;
//! - `push` (options, result and the order of a push) over `upload` and `manifest`;
//! - sources, beside the network side and never importing it: `layout` reads an OCI layout wherever its files are
//!   (a directory, or a tar through `oci_archive`), `archive` reads `docker save` tars, both tar readers over
//!   `tar_index`, all into a `plan`; `compress` ([`Compression`]) compresses a docker archive's uncompressed layers
//!   into temporary files the plan owns; `source` ([`ImageSource`]) picks between them and runs `preflight`.

mod auth;
mod compress;
mod docker_archive;
mod error;
mod image_plan;
mod layout;
mod manifest;
mod merge;
mod oci_archive;
mod preflight;
mod progress;
mod push;
mod source;
mod tar_index;
mod transport;
mod upload;

pub use auth::{Credentials, CredentialsFuture, RegistryAuth, StaticAuth};
pub use compress::{Compression, GZIP_LEVEL, Stop, ZSTD_LEVEL};
pub use docker_archive::holds_image_index;
pub use error::Error;
pub use image_plan::{LayerCompression, ResolvedImage, SourcePlan};
pub use merge::{Child, Contribution, build_index, contribution, platform_name, platform_of_config};
pub use preflight::check_manifest;
pub use progress::Progress;
pub use push::{PushOptions, PushedImage, immutable_tag, push};
pub use source::ImageSource;
pub use transport::{Registry, RetryPolicy};
