//! The AWS layer: everything ecr-ship says to STS and the ECR API.
//!
//! The flow is the crate's usual parse, validate, act. [`AwsSettings::validate`] turns flags and the environment map
//! into a checked plan without touching the network (bad input is exit 2). [`AwsSettings::connect`] then resolves
//! credentials (SDK default chain, GitHub OIDC web identity, AssumeRole, role chaining), asks GetCallerIdentity
//! only where nothing else can name the account (ECR Public without a role) and returns a [`Session`], which
//! fetches the registry password and checks or creates the
//! repository. [`policy`] prints the least-privilege IAM documents that make all of this work, and every denied
//! call points back to it by naming the IAM action that failed.
//!
//! The environment is always passed in as a map, never read from the process: the CLI hands in
//! `std::env::vars()`, tests hand in a map of their own, so tests against different moto servers can run in
//! parallel in one process.

mod catalog;
mod credentials;
mod ecr;
mod errors;
mod images;
pub mod lifecycle;
mod oidc;
pub mod policy;
mod prune;
mod public;
mod repository;
mod repository_settings;
mod scan;
mod session;
mod settings;
pub mod storage;

pub use catalog::{CatalogData, CatalogOptions};
pub use credentials::instance_region;
pub use ecr::RegistryCredentials;
pub use errors::{AccessDenied, CredentialsRejected};
pub use images::StoredManifest;
pub use policy::{GithubSubject, github_trust_policy, public_push_policy, push_policy};
pub use prune::DeleteFailure;
pub use repository::RepositoryInfo;
pub use repository_settings::{Encryption, RepositoryOptions, RepositorySettings};
pub use scan::ScanFindings;
pub use session::Session;
pub use settings::{AwsOptions, AwsSettings, RegionSource, RoleArn, is_no_region};

pub use crate::host::{PublicRegistry, RegistryHost};
pub use crate::secret::Secret;
