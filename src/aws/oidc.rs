//! Fetching the GitHub Actions OIDC token (the JWT that AssumeRoleWithWebIdentity trades for role credentials).
//!
//! The runner sets `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN` when the job has
//! `permissions: id-token: write`. The token is requested with the partition's STS audience right before each
//! STS call, because it lives only about five minutes. Neither the request token nor the JWT is ever formatted
//! into a message: both are [`Secret`]s, and reqwest errors are stripped of their URL.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;

use super::Secret;

/// Requests per token before giving up. The toolkit retries 10 times; five with backoff covers the runner's
/// token service hiccups without stalling a failing job for long.
const ATTEMPTS: u32 = 5;
/// Base of the full-jitter backoff, `random(0, base * 2^attempt)`, capped at [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

pub(super) const URL_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
pub(super) const TOKEN_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// Where and how to ask the runner for an OIDC token.
pub(super) struct GithubOidc {
    url: String,
    request_token: Secret,
    audience: &'static str,
    client: reqwest::Client,
}

impl GithubOidc {
    /// The token source, when the runner offers one (both variables set and non-empty).
    pub fn from_env(
        env: &BTreeMap<String, String>,
        audience: &'static str,
        timeout: Duration,
    ) -> anyhow::Result<Option<GithubOidc>> {
        let get = |key: &str| env.get(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let (Some(url), Some(token)) = (get(URL_VAR), get(TOKEN_VAR)) else {
            return Ok(None);
        };
        // reqwest honours HTTP(S)_PROXY / NO_PROXY from the process environment by default.
        let client = crate::tls::reqwest_builder()
            .timeout(timeout.min(Duration::from_secs(30)))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("building the HTTP client for the GitHub OIDC token request")?;
        Ok(Some(GithubOidc { url, request_token: Secret::new(token), audience, client }))
    }

    pub fn audience(&self) -> &'static str {
        self.audience
    }

    /// `${ACTIONS_ID_TOKEN_REQUEST_URL}&audience=…`: the runner's URL already carries a query string.
    fn request_url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}audience={}", self.url, self.audience)
    }

    /// Host of the token service, the only part of the URL that goes into messages.
    fn host(&self) -> String {
        reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "the URL in ACTIONS_ID_TOKEN_REQUEST_URL".to_string())
    }

    /// Fetches a fresh JWT, retrying transient failures with full jitter.
    pub async fn token(&self) -> anyhow::Result<Secret> {
        let mut last_error = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            match self.try_once().await {
                Ok(jwt) => return Ok(jwt),
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Transient(error)) => last_error = Some(error),
            }
        }
        let error = last_error.unwrap_or_else(|| anyhow::anyhow!("no attempt was made"));
        Err(error.context(format!(
            "requesting the GitHub OIDC token (audience {}) from {} failed {ATTEMPTS} times",
            self.audience,
            self.host()
        )))
    }

    async fn try_once(&self) -> Result<Secret, Failure> {
        let response = self
            .client
            .get(self.request_url())
            .bearer_auth(self.request_token.expose())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| Failure::Transient(anyhow::Error::new(e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            let error = anyhow::anyhow!(
                "the GitHub OIDC token service at {} answered HTTP {status}{}",
                self.host(),
                if matches!(status.as_u16(), 401 | 403) {
                    ": ACTIONS_ID_TOKEN_REQUEST_TOKEN was refused (expired job token, or the job lacks \
                     `permissions: id-token: write`)"
                } else {
                    ""
                }
            );
            let transient = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
            return Err(if transient { Failure::Transient(error) } else { Failure::Final(error) });
        }
        let body = response.bytes().await.map_err(|e| Failure::Transient(anyhow::Error::new(e.without_url())))?;
        // The body holds the JWT: parse it, never print it.
        let value = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| json.get("value").and_then(|v| v.as_str()).map(str::to_string))
            .filter(|jwt| !jwt.is_empty());
        match value {
            Some(jwt) => Ok(Secret::new(jwt)),
            None => Err(Failure::Final(anyhow::anyhow!(
                "the GitHub OIDC token service at {} answered HTTP {status} without a JSON \"value\" field",
                self.host()
            ))),
        }
    }
}

enum Failure {
    Transient(anyhow::Error),
    Final(anyhow::Error),
}

/// Full jitter: a random delay below `base * 2^attempt`, so parallel matrix jobs do not retry in lockstep.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE_BACKOFF.saturating_mul(1 << attempt.min(16)).min(MAX_BACKOFF);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX).max(1);
    // Without randomness the full delay is still a correct (if less spread) backoff.
    let random = getrandom::u64().unwrap_or(millis);
    Duration::from_millis(random % millis + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(url: &str) -> GithubOidc {
        let env = [(URL_VAR, url), (TOKEN_VAR, "request-token")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        GithubOidc::from_env(&env, "sts.amazonaws.com", Duration::from_secs(5)).unwrap().unwrap()
    }

    #[test]
    fn audience_is_appended_to_the_runner_query() {
        assert_eq!(
            oidc("https://runner.example/idtoken?api-version=2.0").request_url(),
            "https://runner.example/idtoken?api-version=2.0&audience=sts.amazonaws.com"
        );
        assert_eq!(oidc("http://127.0.0.1:1/t").request_url(), "http://127.0.0.1:1/t?audience=sts.amazonaws.com");
    }

    #[test]
    fn absent_or_empty_variables_mean_no_oidc() {
        let env: BTreeMap<String, String> =
            [(URL_VAR.to_string(), "https://x/".to_string()), (TOKEN_VAR.to_string(), " ".to_string())].into();
        assert!(GithubOidc::from_env(&env, "sts.amazonaws.com", Duration::from_secs(5)).unwrap().is_none());
    }

    #[test]
    fn backoff_is_bounded() {
        for attempt in 0..40 {
            let delay = backoff(attempt);
            assert!(delay >= Duration::from_millis(1) && delay <= MAX_BACKOFF + Duration::from_millis(1));
        }
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        assert!(!format!("{:?}", oidc("http://127.0.0.1:1/t").request_token).contains("request-token"));
    }
}
