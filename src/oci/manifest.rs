//! Manifests over the transport: the PUT that publishes one (by digest or tag) and the GET that reads one back;
//! and the read of a small blob (an image config), which a merge needs for each child's platform.

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};

use crate::media_type::MANIFEST_MEDIA_TYPES;

use super::error::Error;
use super::image_plan::Manifest;
use super::progress::{Progress, Tracker};
use super::transport::{Failure, Registry, RegistrySession, RetryPolicy, SMALL_REQUEST_TIMEOUT, check, expect_digest};

impl Registry {
    /// Reads a manifest back by tag or digest: its exact bytes and media type. Used to add tags server-side after
    /// an engine push, from the registry itself (always consistent with what was just pushed).
    pub async fn get_manifest(&self, reference: &str) -> anyhow::Result<(Vec<u8>, String)> {
        Ok(get_manifest(self, reference, RetryPolicy::default()).await?)
    }
}

impl Registry {
    /// Reads a small blob (an image config) by digest: at most `limit` bytes, checked against the digest. ECR
    /// answers a blob GET with a redirect to its storage, which is followed without the registry credentials.
    pub async fn get_small_blob(&self, digest: &str, limit: usize) -> anyhow::Result<Vec<u8>> {
        let tracker = Tracker::new(Progress::Quiet);
        let action = format!("reading blob {digest} of {}", self.repository);
        let session = RegistrySession::open(self, RetryPolicy::default(), &tracker, &action).await?;
        Ok(session.get_small_blob(digest, limit, &action).await?)
    }
}

/// Reads a manifest by tag or digest through the same retrying, re-authenticating path as a push.
async fn get_manifest(registry: &Registry, reference: &str, retry: RetryPolicy) -> Result<(Vec<u8>, String), Error> {
    let tracker = Tracker::new(Progress::Quiet);
    let action = format!("reading manifest {reference} of {}", registry.repository);
    let session = RegistrySession::open(registry, retry, &tracker, &action).await?;
    session.get_manifest(reference, &action).await
}

impl RegistrySession<'_> {
    pub(super) async fn get_manifest(&self, reference: &str, action: &str) -> Result<(Vec<u8>, String), Error> {
        let url = self.url(&format!("manifests/{reference}"))?;
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        self.with_retries(action, |credentials| {
            let request = self
                .request(Method::GET, url.clone(), &credentials)
                .header(ACCEPT, accept.as_str())
                .timeout(SMALL_REQUEST_TIMEOUT);
            async move {
                let response = request.send().await.map_err(|e| self.transport(action, e))?;
                let response = check(response, action, self.repository(), None).await?;
                let media_type = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
                    .unwrap_or_default();
                let bytes = response.bytes().await.map_err(|e| self.transport(action, e))?;
                Ok((bytes.to_vec(), media_type))
            }
        })
        .await
    }

    async fn get_small_blob(&self, digest: &str, limit: usize, action: &str) -> Result<Vec<u8>, Error> {
        let url = self.url(&format!("blobs/{digest}"))?;
        self.with_retries(action, |credentials| {
            let request = self.request(Method::GET, url.clone(), &credentials).timeout(SMALL_REQUEST_TIMEOUT);
            let storage = credentials.clone();
            async move {
                let mut response = request.send().await.map_err(|e| self.transport(action, e))?;
                if response.status().is_redirection() {
                    let location = response
                        .headers()
                        .get(LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|l| response.url().join(l).ok())
                        .ok_or_else(|| {
                            Failure::Fatal(Error::Protocol {
                                action: action.into(),
                                what: "a redirect without a Location".into(),
                            })
                        })?;
                    // `request` sends the credentials only to the registry's own origin, never to the storage.
                    response = self
                        .request(Method::GET, location, &storage)
                        .timeout(SMALL_REQUEST_TIMEOUT)
                        .send()
                        .await
                        .map_err(|e| self.transport(action, e))?;
                }
                let mut response = check(response, action, self.repository(), None).await?;
                let mut bytes = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(action, e))? {
                    if bytes.len() + chunk.len() > limit {
                        return Err(Failure::Fatal(Error::Protocol {
                            action: action.into(),
                            what: format!("more than {limit} bytes for a blob that should be a small JSON config"),
                        }));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                let actual = crate::digest::sha256_digest(&bytes);
                if actual != digest {
                    return Err(Failure::Fatal(Error::Protocol {
                        action: action.into(),
                        what: format!("bytes whose digest is {actual}"),
                    }));
                }
                Ok(bytes)
            }
        })
        .await
    }

    pub(super) async fn put_manifest(
        &self,
        manifest: &Manifest,
        reference: &str,
        tag: Option<&str>,
    ) -> Result<(), Error> {
        let repository = self.repository();
        let action = match tag {
            Some(tag) => format!("putting manifest {} as {repository}:{tag}", manifest.digest),
            None => format!("putting manifest {} in {repository}", manifest.digest),
        };
        let url = self.url(&format!("manifests/{reference}"))?;
        self.with_retries(&action, |credentials| {
            let request = self
                .request(Method::PUT, url.clone(), &credentials)
                .header(CONTENT_TYPE, manifest.media_type.as_str())
                .body(manifest.bytes.clone())
                .timeout(SMALL_REQUEST_TIMEOUT);
            let action = action.as_str();
            async move {
                let response = request.send().await.map_err(|e| self.transport(action, e))?;
                let response = check(response, action, repository, tag).await?;
                expect_digest(response.headers(), &manifest.digest, action)
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::oci::auth::{Credentials, StaticAuth};

    #[tokio::test]
    async fn an_unreachable_registry_is_named_with_the_os_reason() {
        // Bound and dropped: nothing listens on the port any more, so the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let auth = Arc::new(StaticAuth(Credentials { username: "AWS".into(), password: "secret".into() }));
        let registry = Registry::new(&format!("http://127.0.0.1:{port}"), "team/app", auth).unwrap();
        let retry =
            RetryPolicy { attempts: 2, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(2) };
        let error = get_manifest(&registry, "v1", retry).await.unwrap_err().to_string();
        assert!(error.starts_with("reading manifest v1 of team/app: "), "{error}");
        assert!(error.contains(&format!("127.0.0.1:{port}")), "names the host: {error}");
        assert!(error.to_lowercase().contains("connection refused"), "names the OS reason: {error}");
        assert!(error.contains("after 2 attempts") && !error.contains(" { "), "{error}");
    }
}
