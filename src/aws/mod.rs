//! The AWS layer: everything ecr-ship says to STS and the ECR API.
//!
//! The flow is the crate's usual parse, validate, act. [`AwsPlan::validate`] turns flags and the environment map
//! into a checked plan without touching the network (bad input is exit 2). [`AwsPlan::connect`] then resolves
//! credentials (SDK default chain, GitHub OIDC web identity, AssumeRole, role chaining), proves them with
//! GetCallerIdentity and returns a [`Session`], which fetches the registry password and checks or creates the
//! repository. [`policy`] prints the least-privilege IAM documents that make all of this work, and every denied
//! call points back to it by naming the IAM action that failed.
//!
//! The environment is always passed in as a map, never read from the process: the CLI hands in
//! `std::env::vars()`, tests hand in a map of their own, so tests against different moto servers can run in
//! parallel in one process.

mod credentials;
mod ecr;
mod errors;
mod oidc;
mod plan;
pub mod policy;
mod repository;

use std::fmt;

pub use credentials::Session;
pub use ecr::RegistryCredentials;
pub use errors::{AccessDenied, CredentialsRejected};
pub use plan::{AwsOptions, AwsPlan, RegionSource, RoleArn};
pub use policy::{github_trust_policy, push_policy};
pub use repository::{Encryption, RepositoryInfo, RepositoryOptions, RepositorySettings, TagMutability};

/// A value that must never be printed: the registry password, the OIDC JWT, the OIDC request token.
///
/// `Debug` prints a placeholder and there is no `Display`, so a secret cannot slip into a log line or an error
/// message through formatting; the one way out is [`Secret::expose`], which is easy to grep for.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret text, for the one place that has to send it (an `Authorization` header, a login call).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn secrets_do_not_format() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(secret.expose(), "hunter2");
    }
}
