//! The registry client's credentials for ECR: the authorization token, fetched again once when the registry
//! answers 401 because it expired mid-push; and the [`ImageRegistry`] a command's images are addressed by, private
//! or ECR Public.

use std::sync::Arc;

use anyhow::Context;

use crate::aws::{AwsPlan, RegistryCredentials, Session, StoredManifest};
use crate::host::{ImageRegistry, RegistryHost};
use crate::oci;

/// Where the session's images go: the ECR Public alias (given, or the caller's default), else the registry host
/// given, else the one GetAuthorizationToken names.
pub async fn image_registry(
    plan: &AwsPlan,
    session: &Session,
    token: &RegistryCredentials,
) -> anyhow::Result<ImageRegistry> {
    if let Some(alias) = session.public_alias().await? {
        return Ok(ImageRegistry::public(&alias));
    }
    let host = match plan.registry() {
        Some(host) => host.clone(),
        None => host_of_proxy_endpoint(&token.proxy_endpoint)?,
    };
    Ok(ImageRegistry::private(&host))
}

/// A registry client for `repository` on `registry`, authenticated with the ECR token.
pub fn registry_client(
    registry: &ImageRegistry,
    repository: &str,
    session: Arc<Session>,
    token: &RegistryCredentials,
) -> anyhow::Result<oci::Registry> {
    let auth = TokenAuth {
        session,
        current: tokio::sync::Mutex::new(oci::Credentials {
            username: token.username.clone(),
            password: token.password.expose().to_string(),
        }),
    };
    oci::Registry::new(&format!("https://{}", registry.host()), &registry.repository_path(repository), Arc::new(auth))
}

struct TokenAuth {
    session: Arc<Session>,
    current: tokio::sync::Mutex<oci::Credentials>,
}

impl oci::RegistryAuth for TokenAuth {
    fn credentials(&self, refresh: bool) -> oci::CredentialsFuture<'_> {
        Box::pin(async move {
            let mut current = self.current.lock().await;
            if refresh {
                let fresh = self.session.fresh_authorization_token().await?;
                *current = oci::Credentials { username: fresh.username, password: fresh.password.expose().to_string() };
            }
            Ok(current.clone())
        })
    }
}

/// A stored manifest read from the registry by tag or digest, with its exact bytes: for ECR Public, whose API has
/// no BatchGetImage, and for the index a merge builds on.
pub async fn manifest_from_registry(client: &oci::Registry, reference: &str) -> anyhow::Result<StoredManifest> {
    let (bytes, media_type) = client.get_manifest(reference).await?;
    let manifest = StoredManifest::new(
        String::from_utf8(bytes).with_context(|| format!("the manifest of {reference} is not UTF-8 JSON"))?,
        Some(media_type),
    );
    if crate::digest::is_digest(reference) && manifest.digest != reference {
        anyhow::bail!("the registry returned manifest {} for {reference}", manifest.digest);
    }
    Ok(manifest)
}

/// The registry host of a GetAuthorizationToken answer. The endpoint comes from a server, so a value that does not
/// parse is a failure of that server (exit 1), never bad input.
pub fn host_of_proxy_endpoint(proxy_endpoint: &str) -> anyhow::Result<RegistryHost> {
    RegistryHost::parse(proxy_endpoint)
        .with_context(|| {
            format!(
                "GetAuthorizationToken returned the proxy endpoint '{proxy_endpoint}', which is not an ECR registry; \
                 pass --registry HOST to name the registry"
            )
        })
        .map_err(crate::error::after_contact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_proxy_endpoint_is_a_server_failure_not_bad_input() {
        let error = host_of_proxy_endpoint("https://registry.example.com").unwrap_err();
        assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_FAILURE);
        assert!(format!("{error:#}").contains("GetAuthorizationToken returned the proxy endpoint"), "{error:#}");
        let host = host_of_proxy_endpoint("https://123456789012.dkr.ecr.us-east-1.amazonaws.com").unwrap();
        assert_eq!(host.host(), "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    }
}
