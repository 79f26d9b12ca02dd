//! The registry client's credentials for ECR: the authorization token, fetched again once when the registry
//! answers 401 because it expired mid-push; and the [`ImageRegistry`] a command's images are addressed by, private
//! or ECR Public.

use std::sync::Arc;

use anyhow::Context;

use crate::aws::{AwsSettings, RegistryCredentials, Session, StoredManifest};
use crate::host::{ImageRegistry, RegistryHost, Stack};
use crate::oci;

/// Where the session's images go: the ECR Public alias (given, or the caller's default), else the registry host
/// given, else the one GetAuthorizationToken names.
pub async fn image_registry(
    plan: &AwsSettings,
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
    let known = oci::Credentials { username: token.username.clone(), password: token.password.expose().to_string() };
    client_with(registry, repository, session, Some(known))
}

/// A registry client made before the token arrives, for the registry the session's images will go to when that is
/// known without the token (a given registry host or ECR Public alias, else the caller's own registry in the
/// session's region), warming up `connections` connections in the background while the caller's API calls run. Its first request
/// waits for the session's token, which the caller is fetching anyway. `None` when the registry is not known yet.
pub fn warmed_registry_client(
    plan: &AwsSettings,
    session: &Arc<Session>,
    repository: &str,
    connections: usize,
) -> Option<oci::Registry> {
    let registry = match (plan.public(), plan.registry()) {
        (Some(public), _) => ImageRegistry::public(public.alias.as_deref()?),
        (None, Some(host)) => ImageRegistry::private(host),
        (None, None) => {
            let host = RegistryHost::for_account(session.registry_account()?, session.region(), false, Stack::Ipv4);
            ImageRegistry::private(&host.ok()?)
        }
    };
    let client = client_with(&registry, repository, session.clone(), None).ok()?;
    client.warm_up(connections);
    Some(client)
}

/// The warmed client when it is for the `registry` the token settled on, else a new one.
pub fn reuse_or_new(
    warmed: Option<oci::Registry>,
    registry: &ImageRegistry,
    repository: &str,
    session: Arc<Session>,
    token: &RegistryCredentials,
) -> anyhow::Result<oci::Registry> {
    let same = |client: &oci::Registry| {
        client.base_url() == format!("https://{}", registry.host())
            && client.repository() == registry.repository_path(repository)
    };
    match warmed {
        Some(client) if same(&client) => Ok(client),
        _ => registry_client(registry, repository, session, token),
    }
}

fn client_with(
    registry: &ImageRegistry,
    repository: &str,
    session: Arc<Session>,
    known: Option<oci::Credentials>,
) -> anyhow::Result<oci::Registry> {
    let auth = TokenAuth { session, current: tokio::sync::Mutex::new(known) };
    oci::Registry::new(&format!("https://{}", registry.host()), &registry.repository_path(repository), Arc::new(auth))
}

/// The ECR token as registry credentials: the session's (cached) token until the registry refuses it, then a new
/// one.
struct TokenAuth {
    session: Arc<Session>,
    current: tokio::sync::Mutex<Option<oci::Credentials>>,
}

impl oci::RegistryAuth for TokenAuth {
    fn credentials(&self, refresh: bool) -> oci::CredentialsFuture<'_> {
        Box::pin(async move {
            let mut current = self.current.lock().await;
            let stale = refresh || current.is_none();
            if stale {
                let token = if refresh {
                    self.session.fresh_authorization_token().await?
                } else {
                    self.session.authorization_token().await?
                };
                *current =
                    Some(oci::Credentials { username: token.username, password: token.password.expose().to_string() });
            }
            current.clone().context("no registry credentials")
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
