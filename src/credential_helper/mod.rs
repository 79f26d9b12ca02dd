//! ecr-ship as a docker credential helper (`docker-credential-ecr-ship`, or `ecr-ship credential-helper VERB`), for
//! hosts that pull and push all day: the protocol and which servers are ECR ([`protocol`]), the on-disk token cache
//! ([`cache`]), and the one-command set-up that links the helper and names it in the engines' configs
//! ([`install`]). It sits on the services: the token comes from the `aws` session, the cache's lock and private
//! files are the credential store's (`engine`).

pub mod cache;
pub mod install;
pub mod protocol;

use crate::aws::{AwsOptions, AwsSettings, PublicRegistry};
use crate::ci::EnvMap;
use crate::host::PUBLIC_API_REGION;
pub use cache::{CachedToken, TokenCache};
pub use protocol::{NOT_FOUND, Served, Verb};

/// The token for a served registry: the credentials of the default chain (environment, profile, web identity,
/// container, instance metadata with a bounded wait), the region of the host (us-east-1 for ECR Public), and the
/// cache in front of GetAuthorizationToken.
pub async fn token(served: &Served, env: &EnvMap, cache: &TokenCache) -> anyhow::Result<CachedToken> {
    // The SDK's default chain takes static keys from the environment before any other source, so they name the
    // identity without loading the SDK: a token cached for them is served at once. This is the path docker takes
    // on every pull and push after the first.
    if let Some(token) = environment_key_id(env).and_then(|key_id| cache.cached(served.host(), key_id)) {
        return Ok(token);
    }
    let options = match served {
        Served::Private(host) => AwsOptions { registry: Some(host.clone()), ..AwsOptions::default() },
        Served::Public => AwsOptions {
            region: Some(PUBLIC_API_REGION.to_string()),
            public: Some(PublicRegistry { alias: None }),
            ..AwsOptions::default()
        },
    };
    // Token-only: no GetCallerIdentity even for ECR Public, so a cached token costs no round trip. The cache key is
    // the access key id, which the credentials carry without any call.
    let settings = AwsSettings::validate(options, env)?.with_quick_instance_metadata().for_token_only();
    let session = settings.connect(env).await?;
    let identity = session.access_key_id().await?;
    cache.token(served.host(), &identity, || session.fresh_authorization_token()).await
}

/// The access key id the SDK's environment provider would use: `AWS_ACCESS_KEY_ID` with `AWS_SECRET_ACCESS_KEY`
/// beside it, both non-empty.
fn environment_key_id(env: &EnvMap) -> Option<&str> {
    let set = |key: &str| env.get(key).map(String::as_str).filter(|value| !value.is_empty());
    set("AWS_SECRET_ACCESS_KEY").and(set("AWS_ACCESS_KEY_ID"))
}
