//! Registry credentials: the HTTP Basic pair, and the [`RegistryAuth`] trait a push asks for them (once, plus at
//! most one refresh after a 401). A leaf: it imports nothing else from `oci`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// HTTP Basic credentials; for ECR the user is `AWS` and the password the GetAuthorizationToken token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

pub type CredentialsFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Credentials>> + Send + 'a>>;

/// Supplies registry credentials. A push asks once with `refresh == false` before its first request, and at most
/// once more with `refresh == true` when the registry answers 401 mid-push (an ECR token expired during a long
/// upload): the implementation should then fetch a new token rather than return a cached one.
pub trait RegistryAuth: Send + Sync {
    fn credentials(&self, refresh: bool) -> CredentialsFuture<'_>;
}

/// Fixed credentials (a token obtained beforehand); a refresh returns the same ones.
pub struct StaticAuth(pub Credentials);

impl RegistryAuth for StaticAuth {
    fn credentials(&self, _refresh: bool) -> CredentialsFuture<'_> {
        let credentials = self.0.clone();
        Box::pin(async move { Ok(credentials) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print_the_password() {
        let credentials = Credentials { username: "AWS".into(), password: "token-123".into() };
        assert!(!format!("{credentials:?}").contains("token-123"));
    }
}
