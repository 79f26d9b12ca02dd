//! Registry credentials: the HTTP Basic pair, the [`RegistryAuth`] trait a push asks for them (once, plus at most
//! one refresh after a 401), and the parsing of a registry's `WWW-Authenticate: Bearer` challenge (the token
//! service a registry such as ECR Public sends clients to). A leaf: it imports nothing else from `oci`.

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

/// A registry's Bearer challenge: where to exchange the Basic credentials for a bearer token, and for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Challenge {
    pub realm: String,
    pub service: Option<String>,
    pub scopes: Vec<String>,
}

/// The Bearer challenge among a 401's `WWW-Authenticate` values, if there is one (`Basic realm=…`, ECR's own
/// challenge, is not: it asks for the credentials already sent).
pub(super) fn bearer_challenge<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    values.into_iter().find_map(|value| {
        let value = value.trim();
        let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = auth_params(rest);
        let find = |key: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone());
        let scopes = find("scope").map(|s| s.split(' ').filter(|s| !s.is_empty()).map(String::from).collect());
        Some(Challenge { realm: find("realm")?, service: find("service"), scopes: scopes.unwrap_or_default() })
    })
}

/// `key=value` and `key="quoted, value"` pairs separated by commas (RFC 9110 auth-param), backslash escapes kept
/// literal inside quotes.
fn auth_params(text: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.trim().is_empty() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    other => value.push(other),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect::<String>().trim().to_string();
        }
        params.push((key.trim().to_string(), value));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_parse_and_basic_ones_do_not() {
        let public = r#"Bearer realm="https://public.ecr.aws/token/",service="public.ecr.aws",scope="aws",error="invalid_token""#;
        assert_eq!(
            bearer_challenge([public]),
            Some(Challenge {
                realm: "https://public.ecr.aws/token/".into(),
                service: Some("public.ecr.aws".into()),
                scopes: vec!["aws".into()],
            })
        );
        let spaced = r#"bearer  realm = "https://r/t" , scope="repository:a/b:pull,push repository:c:pull""#;
        let parsed = bearer_challenge([r#"Basic realm="https://x""#, spaced]).unwrap();
        assert_eq!(parsed.scopes, ["repository:a/b:pull,push", "repository:c:pull"]);
        assert_eq!(parsed.service, None);
        assert_eq!(bearer_challenge([r#"Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/""#]), None);
        assert_eq!(bearer_challenge([r#"Bearer service="no-realm""#]), None);
        assert_eq!(bearer_challenge(["Bearer"]), None);
        let escaped = bearer_challenge([r#"Bearer realm="https://r/\"q\"",service=plain"#]).unwrap();
        assert_eq!((escaped.realm.as_str(), escaped.service.as_deref()), (r#"https://r/"q""#, Some("plain")));
    }

    #[test]
    fn credentials_never_print_the_password() {
        let credentials = Credentials { username: "AWS".into(), password: "token-123".into() };
        assert!(!format!("{credentials:?}").contains("token-123"));
    }
}
