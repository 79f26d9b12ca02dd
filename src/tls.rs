//! The one TLS stack every connection uses: rustls with ring's primitives, for the AWS SDK's HTTP client and for
//! the registry's (and the OIDC token request's) reqwest client alike.
//!
//! The SDK would otherwise bring its default, rustls over aws-lc, and reqwest its own choice: two crypto libraries
//! in one binary that is downloaded on every CI job, where aws-lc alone is about 1.5 MB of C for nothing ring lacks
//! here (TLS 1.2 and 1.3 with ECDHE and AES-GCM or ChaCha20, which is what every AWS endpoint and registry offers).
//! Both clients trust the platform's store, where `SSL_CERT_FILE`/`SSL_CERT_DIR` point at a private CA.

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use std::sync::OnceLock;

use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The SDK's HTTPS client: hyper over rustls with ring, trusting the platform's store. It is built on the first
/// request, not here: building it reads and parses the whole trust store (a bundle and a directory of a few hundred
/// certificates, several milliseconds), which a command that sends nothing (a credential helper answering from its
/// cache, a refused input) must not pay.
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(OnFirstRequest::default())
}

#[derive(Debug, Default)]
struct OnFirstRequest(OnceLock<SharedHttpClient>);

impl HttpClient for OnFirstRequest {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        let client = self.0.get_or_init(|| {
            aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
        });
        client.http_connector(settings, components)
    }
}

/// A reqwest builder whose TLS uses ring. reqwest built without a crypto provider of its own takes the process's
/// default, so ring is made the default first (a second call, or a race between two, leaves the first in place,
/// which is the same provider).
pub fn reqwest_builder() -> reqwest::ClientBuilder {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    use super::*;

    // reqwest is built without a provider of its own and panics at `build` when the process has no default, so
    // this fails if `reqwest_builder` stops installing ring; the second call must find the first's in place.
    #[test]
    fn reqwest_clients_build_once_ring_is_the_process_default() {
        reqwest_builder().build().unwrap();
        reqwest_builder().build().unwrap();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
