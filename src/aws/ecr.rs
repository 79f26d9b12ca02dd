//! The ECR API of one authenticated session ([`EcrApi`]: the client, the target registry, who calls, and where the
//! calls go) and the registry password: GetAuthorizationToken (a token is per region and serves every account's
//! registry there), decoded from base64 `AWS:<password>`. The repository and image calls extend [`EcrApi`] in
//! `repository.rs` and `images.rs`; the `Session` façade caches the token.
//!
//! The expiry is reported but never enforced: the token was just issued, and moto stamps every token with a
//! date in 2015, which must not make the tool refuse or refresh forever.

use std::fmt;
use std::time::SystemTime;

use base64::Engine;

use super::Secret;
use super::errors::{ApiCall, policy_hint};
use crate::host::Partition;

/// The ECR API client of a session, with what every call and its messages need.
pub(super) struct EcrApi {
    pub(super) client: aws_sdk_ecr::Client,
    pub(super) region: String,
    pub(super) partition: Partition,
    /// The principal, when an answer named it (GetCallerIdentity or AssumeRole); denials name it themselves.
    pub(super) caller_arn: Option<String>,
    /// The caller's account, when an answer named it (see `AwsSettings::identity`).
    pub(super) account: Option<String>,
    /// Registry account when it is not the caller's (cross-account push); `None` means the caller's own.
    pub(super) registry_id: Option<String>,
    /// Where the calls go, for messages about the network.
    pub(super) endpoint: String,
}

impl EcrApi {
    /// Account that owns the registry: the explicit registry host's, or else the caller's; `None` when neither is
    /// known, and then every call leaves registryId out, which means the caller's own registry.
    pub(super) fn registry_account(&self) -> Option<&str> {
        self.registry_id.as_deref().or(self.account.as_deref())
    }

    /// The registry's account for messages.
    pub(super) fn registry_account_name(&self) -> &str {
        self.registry_account().unwrap_or(super::errors::UNKNOWN_ACCOUNT)
    }
}

/// What `docker login` (or a registry client) needs for the region's registries.
#[derive(Clone)]
pub struct RegistryCredentials {
    /// Always `AWS` for ECR; taken from the token anyway.
    pub username: String,
    pub password: Secret,
    /// `https://<account>.dkr.ecr.<region>.<suffix>` of the caller's registry.
    pub proxy_endpoint: String,
    pub expires_at: Option<SystemTime>,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .field("proxy_endpoint", &self.proxy_endpoint)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl EcrApi {
    /// A new token from GetAuthorizationToken.
    pub(super) async fn fetch_authorization_token(&self) -> anyhow::Result<RegistryCredentials> {
        let call = ApiCall {
            operation: "GetAuthorizationToken",
            action: "ecr:GetAuthorizationToken",
            subject: format!("in {}", self.region),
            resource: "*".into(),
            principal: self.caller_arn.clone(),
            hint: policy_hint(None),
            endpoint: self.endpoint.clone(),
        };
        let output = self.client.get_authorization_token().send().await.map_err(|e| call.error(e))?;
        let Some(data) = output.authorization_data().first() else {
            anyhow::bail!("{}: the response carries no authorization data", call.describe());
        };
        let Some(token) = data.authorization_token() else {
            anyhow::bail!("{}: the response carries no authorization token", call.describe());
        };
        let Some(proxy_endpoint) = data.proxy_endpoint() else {
            anyhow::bail!("{}: the response carries no proxy endpoint", call.describe());
        };
        let (username, password) = decode_token(token).map_err(|e| e.context(call.describe()))?;
        Ok(RegistryCredentials {
            username,
            password,
            proxy_endpoint: proxy_endpoint.to_string(),
            expires_at: data.expires_at().and_then(|t| SystemTime::try_from(*t).ok()),
        })
    }
}

/// Splits base64 `user:password`. Errors describe the shape only, never the content.
pub(super) fn decode_token(token: &str) -> anyhow::Result<(String, Secret)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| anyhow::anyhow!("the authorization token is not valid base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("the decoded authorization token is not UTF-8"))?;
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok((user.to_string(), Secret::new(password)))
        }
        _ => anyhow::bail!("the decoded authorization token is not of the form user:password"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_user_and_password_without_leaking_either() {
        let token = base64::engine::general_purpose::STANDARD.encode("AWS:pa:ss");
        let (user, password) = decode_token(&token).unwrap();
        assert_eq!((user.as_str(), password.expose()), ("AWS", "pa:ss"));
        for bad in ["!!!", &base64::engine::general_purpose::STANDARD.encode("no-colon-secret")] {
            let message = format!("{:#}", decode_token(bad).unwrap_err());
            assert!(!message.contains("secret") && !message.contains("!!!"), "{message}");
        }
    }
}
