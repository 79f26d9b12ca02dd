//! The transport: a [`Registry`] (base URL, repository, HTTP client, credentials) and the per-call [`RegistrySession`]
//! every request goes through: the retry budget with exponential backoff and jitter, the single shared
//! credential refresh after a 401 (or ECR's 403 DENIED for an expired token), the Bearer token exchange a
//! registry's challenge asks for (ECR Public's, say: the Basic pair goes to the token service on the registry's
//! own origin, the bearer token to the registry, renewed when it is refused), Retry-After, and the mapping from an
//! HTTP status to a retry, a refresh or a typed [`Error`]. Blob uploads, manifest puts and manifest reads all use
//! this one path.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};

use crate::bail_input;

use super::auth::{Challenge, Credentials, RegistryAuth, bearer_challenge};
use super::error::{Error, from_response};
use super::progress::Tracker;

/// A repository on a registry, with the HTTP client and credentials used to reach it.
pub struct Registry {
    pub(super) base_url: String,
    /// The registry's origin (scheme, host, port): the only one its credentials are sent to.
    origin: reqwest::Url,
    pub(super) repository: String,
    pub(super) auth: Arc<dyn RegistryAuth>,
    pub(super) http: reqwest::Client,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("base_url", &self.base_url).field("repository", &self.repository).finish()
    }
}

impl Registry {
    /// `base_url` is the scheme and host, such as `https://123456789012.dkr.ecr.us-east-1.amazonaws.com` or
    /// `http://127.0.0.1:5001`. TLS uses the platform's trust store (on Linux `SSL_CERT_FILE`/`SSL_CERT_DIR`
    /// override it, which is how private CAs are trusted).
    pub fn new(base_url: &str, repository: &str, auth: Arc<dyn RegistryAuth>) -> anyhow::Result<Registry> {
        let trimmed = base_url.trim_end_matches('/');
        let parsed = reqwest::Url::parse(trimmed)
            .map_err(|e| crate::error::bad_input(format!("invalid registry URL '{base_url}': {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            bail_input!("invalid registry URL '{base_url}': expected https://HOST[:PORT] (or http:// for a local one)");
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            bail_input!("invalid registry URL '{base_url}': it must not have a query or fragment");
        }
        crate::names::validate_repository(repository)?;
        let http = crate::tls::reqwest_builder()
            .user_agent(concat!("ecr-ship/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .tcp_keepalive(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("setting up the HTTP client: {e}"))?;
        Ok(Registry { base_url: trimmed.to_string(), origin: parsed, repository: repository.to_string(), auth, http })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// Opens up to `connections` connections ahead of their first use, in the background, so their TCP and TLS
    /// handshakes overlap whatever the caller waits for meanwhile (the API calls before a push) without ever
    /// delaying it. Each carries one `GET /v2/` without credentials (a registry answers 401 or 200; either is fine),
    /// whose answer is read to the end so the connection goes back to the pool, where the push's first requests
    /// find it. Failures are ignored: a connection that could not be opened now is opened, and reported, by the
    /// request that needs it. Must be called inside a Tokio runtime.
    pub fn warm_up(&self, connections: usize) {
        let (http, url) = (self.http.clone(), format!("{}/v2/", self.base_url));
        tokio::spawn(async move {
            let open = (0..connections.max(1)).map(|_| async {
                if let Ok(response) = http.get(&url).timeout(WARM_UP_TIMEOUT).send().await {
                    let _ = response.bytes().await;
                }
            });
            futures_util::future::join_all(open).await;
        });
    }
}

/// A warm-up that has not connected by then is no use to the requests it was meant to speed up.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(10);

/// Retry budget for every request: attempts include the first one; delays grow exponentially from `base_delay`
/// up to `max_delay`, each drawn uniformly from its upper half so parallel uploads don't retry in lock step.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { attempts: 5, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(15) }
    }
}

impl RetryPolicy {
    /// Pause after failed attempt number `attempt` (1-based).
    pub(super) fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self.base_delay.saturating_mul(1u32 << exponent).min(self.max_delay);
        let random = getrandom::u64().unwrap_or_else(|_| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos().into())
        });
        let fraction = 0.5 + (random % 1_000_000) as f64 / 2_000_000.0;
        ceiling.mul_f64(fraction)
    }
}

/// Attempts for a throttled request. A matrix of jobs pushing at once can keep an account's PutImage budget spent
/// for seconds; with the backoff capped at `max_delay`, ten attempts wait out about a minute of it.
pub(super) const THROTTLED_ATTEMPTS: u32 = 10;

/// Error bodies are short JSON; anything longer is cut rather than buffered.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Small requests (HEAD, POST, manifest PUT) that take longer than this are stuck, not slow.
pub(super) const SMALL_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// What one attempt of a request authenticates with; handed to each attempt by [`RegistrySession::with_retries`].
pub(super) type AttemptCredentials = Arc<Authorization>;

/// The Basic pair, and the bearer token the registry's token service exchanged it for, once it asked for one.
pub(super) struct Authorization {
    basic: Arc<Credentials>,
    bearer: Option<String>,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("basic", &self.basic)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The answer of a token service that is not a token.
enum ExchangeFailure {
    /// 401/403: the Basic pair itself was refused (an expired ECR token); a refresh may help.
    Refused(Error),
    /// No answer, or a 5xx: worth another attempt.
    Transient(Error),
    Fatal(Error),
}

/// How one attempt ended, which decides what the retry loop does next.
pub(super) enum Failure {
    /// Worth another attempt after a pause (5xx, connection trouble); the server may say how long to wait.
    Retry(Error, Option<Duration>),
    /// 401, or ECR's 403 DENIED for an expired token: refresh the credentials once, then try again; or, with the
    /// registry's Bearer challenge, exchange them for a (new) bearer token first.
    Auth(Error, Option<Box<Challenge>>),
    /// 429: the account's shared budget is spent (ECR allows 10 PutImage a second per account and region, across
    /// every CI job). Retried with backoff on a budget of its own, [`THROTTLED_ATTEMPTS`].
    Throttled(Error, Option<Duration>),
    Fatal(Error),
}

/// The credentials in use, and the one refresh a push may do.
struct AuthState {
    provider: Arc<dyn RegistryAuth>,
    current: Mutex<(u64, Arc<Authorization>)>,
    refresh_used: tokio::sync::Mutex<bool>,
    /// One token exchange at a time: requests refused together share the one that answers them all.
    exchange: tokio::sync::Mutex<()>,
}

impl AuthState {
    fn current(&self) -> (u64, Arc<Authorization>) {
        match self.current.lock() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// After a 401 with the credentials of `generation`: true when newer credentials are now in place (refreshed
    /// here, or by a concurrent request that hit the same 401), false when the single refresh is already spent.
    async fn refresh(&self, generation: u64, action: &str) -> Result<bool, Error> {
        let mut used = self.refresh_used.lock().await;
        if self.current().0 != generation {
            return Ok(true);
        }
        if *used {
            return Ok(false);
        }
        *used = true;
        let fresh = self.fresh_basic(action).await?;
        self.replace(generation, Authorization { basic: Arc::new(fresh), bearer: None });
        Ok(true)
    }

    async fn fresh_basic(&self, action: &str) -> Result<Credentials, Error> {
        self.provider
            .credentials(true)
            .await
            .map_err(|e| Error::Credentials { action: action.to_string(), message: format!("{e:#}") })
    }

    fn replace(&self, generation: u64, authorization: Authorization) {
        let mut current = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = (generation + 1, Arc::new(authorization));
    }
}

pub(super) struct RegistrySession<'a> {
    pub(super) registry: &'a Registry,
    auth: AuthState,
    retry: RetryPolicy,
    pub(super) tracker: &'a Tracker,
}

impl<'a> RegistrySession<'a> {
    /// Starts a session with the first (unrefreshed) credentials; `action` names the work if getting them fails.
    pub(super) async fn open(
        registry: &'a Registry,
        retry: RetryPolicy,
        tracker: &'a Tracker,
        action: &str,
    ) -> Result<RegistrySession<'a>, Error> {
        let provider = registry.auth.clone();
        let first = provider
            .credentials(false)
            .await
            .map_err(|e| Error::Credentials { action: action.to_string(), message: format!("{e:#}") })?;
        Ok(RegistrySession {
            registry,
            tracker,
            auth: AuthState {
                provider,
                current: Mutex::new((0, Arc::new(Authorization { basic: Arc::new(first), bearer: None }))),
                refresh_used: tokio::sync::Mutex::new(false),
                exchange: tokio::sync::Mutex::new(()),
            },
            retry,
        })
    }
}

impl RegistrySession<'_> {
    pub(super) fn repository(&self) -> &str {
        &self.registry.repository
    }

    pub(super) fn url(&self, tail: &str) -> Result<Url, Error> {
        let text = format!("{}/v2/{}/{tail}", self.registry.base_url, self.registry.repository);
        Url::parse(&text)
            .map_err(|e| Error::Protocol { action: format!("building the URL {text}"), what: e.to_string() })
    }

    /// A request carrying the credentials only when `url` is on the registry's own origin: an upload `Location`
    /// on another host (or a downgrade to http) gets no Authorization header.
    pub(super) fn request(&self, method: Method, url: Url, authorization: &Authorization) -> reqwest::RequestBuilder {
        let same_origin = url.origin() == self.registry.origin.origin();
        let request = self.registry.http.request(method, url);
        match (&authorization.bearer, same_origin) {
            (_, false) => request,
            (Some(token), true) => request.bearer_auth(token),
            (None, true) => {
                let basic = &authorization.basic;
                request.basic_auth(&basic.username, Some(&basic.password))
            }
        }
    }

    /// After a 401 with a Bearer challenge: a bearer token for `challenge`, exchanged with the current Basic pair
    /// (or, when the token service refuses that, with a refreshed one: the one refresh). False when nothing new
    /// can be tried. A transient failure of the token service pauses like any retry, then lets the request retry.
    async fn renew_bearer(
        &self,
        generation: u64,
        challenge: &Challenge,
        action: &str,
        tried: u32,
    ) -> Result<bool, Error> {
        let _one_at_a_time = self.auth.exchange.lock().await;
        let (now, current) = self.auth.current();
        if now != generation {
            return Ok(true);
        }
        let first = self.exchange(challenge, &current.basic, action).await;
        let (basic, token) = match first {
            Ok(token) => (current.basic.clone(), token),
            Err(ExchangeFailure::Refused(error)) => {
                let mut used = self.auth.refresh_used.lock().await;
                if *used {
                    return Err(error);
                }
                *used = true;
                let fresh = Arc::new(self.auth.fresh_basic(action).await?);
                self.tracker.notice(format!(
                    "{action}: the token service refused the registry credentials (expired?); retrying with fresh ones"
                ));
                match self.exchange(challenge, &fresh, action).await {
                    Ok(token) => (fresh, token),
                    Err(ExchangeFailure::Refused(error) | ExchangeFailure::Fatal(error)) => return Err(error),
                    Err(ExchangeFailure::Transient(_)) => {
                        self.auth.replace(generation, Authorization { basic: fresh, bearer: None });
                        tokio::time::sleep(self.retry.delay(tried)).await;
                        return Ok(true);
                    }
                }
            }
            Err(ExchangeFailure::Fatal(error)) => return Err(error),
            Err(ExchangeFailure::Transient(error)) => {
                if tried >= self.retry.attempts.max(1) {
                    return Err(error);
                }
                tokio::time::sleep(self.retry.delay(tried)).await;
                return Ok(true);
            }
        };
        self.auth.replace(generation, Authorization { basic, bearer: Some(token) });
        Ok(true)
    }

    /// GET realm?service=…&scope=… with the Basic pair. The realm must be on the registry's own origin: the
    /// registry credentials are for it alone.
    async fn exchange(
        &self,
        challenge: &Challenge,
        basic: &Credentials,
        action: &str,
    ) -> Result<String, ExchangeFailure> {
        let service_error = |message: String| Error::TokenService {
            action: action.to_string(),
            realm: challenge.realm.clone(),
            message,
        };
        let mut realm = Url::parse(&challenge.realm)
            .map_err(|e| ExchangeFailure::Fatal(service_error(format!("the realm is not a URL ({e})"))))?;
        if realm.origin() != self.registry.origin.origin() {
            return Err(ExchangeFailure::Fatal(service_error(format!(
                "the token service is not on the registry's origin {}, and ecr-ship sends the registry credentials                  only there",
                self.registry.base_url
            ))));
        }
        let wanted = format!("repository:{}:pull,push", self.registry.repository);
        {
            let mut query = realm.query_pairs_mut();
            if let Some(service) = &challenge.service {
                query.append_pair("service", service);
            }
            for scope in challenge.scopes.iter().filter(|s| **s != wanted) {
                query.append_pair("scope", scope);
            }
            query.append_pair("scope", &wanted);
        }
        let response = self
            .registry
            .http
            .get(realm)
            .basic_auth(&basic.username, Some(&basic.password))
            .timeout(SMALL_REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| ExchangeFailure::Transient(service_error(transport_message(e))))?;
        let status = response.status();
        if !status.is_success() {
            let body = read_error_body(response).await;
            let detail = super::error::parse_envelope(&body)
                .map(|(code, message)| format!("{code}: {message}"))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().chars().take(200).collect());
            let error = service_error(format!(
                "HTTP {}{}",
                status.as_u16(),
                if detail.is_empty() { String::new() } else { format!(" ({detail})") }
            ));
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ExchangeFailure::Refused(error),
                s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => ExchangeFailure::Transient(error),
                _ => ExchangeFailure::Fatal(error),
            });
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body =
            response.bytes().await.map_err(|e| ExchangeFailure::Transient(service_error(transport_message(e))))?;
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|_| ExchangeFailure::Fatal(service_error("an answer that is not the token JSON".into())))?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ExchangeFailure::Fatal(service_error("an answer without a token".into())))
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retry budget is spent.
    pub(super) async fn with_retries<T, F, Fut>(&self, action: &str, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut(AttemptCredentials) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let attempts = self.retry.attempts.max(1);
        let mut tried = 0u32;
        let mut throttled = 0u32;
        loop {
            tried += 1;
            let (generation, credentials) = self.auth.current();
            let failure = match attempt(credentials).await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            match failure {
                Failure::Fatal(error) => return Err(error),
                Failure::Auth(error, Some(challenge)) => {
                    if tried >= attempts || !self.renew_bearer(generation, &challenge, action, tried).await? {
                        return Err(error);
                    }
                }
                Failure::Auth(error, None) => {
                    if tried >= attempts || !self.auth.refresh(generation, action).await? {
                        return Err(error);
                    }
                    self.tracker.notice(format!(
                        "{action}: the registry refused the credentials (expired or unknown); retrying with fresh ones"
                    ));
                }
                Failure::Throttled(error, server_delay) => {
                    throttled += 1;
                    if throttled >= THROTTLED_ATTEMPTS.max(attempts) {
                        return Err(error);
                    }
                    tried -= 1;
                    let delay =
                        server_delay.map_or_else(|| self.retry.delay(throttled), |d| d.min(self.retry.max_delay));
                    self.tracker.notice(format!(
                        "throttled ({throttled} of {THROTTLED_ATTEMPTS}), retrying in {:.1}s: {error}",
                        delay.as_secs_f64()
                    ));
                    tokio::time::sleep(delay).await;
                }
                Failure::Retry(error, server_delay) => {
                    if tried >= attempts {
                        return Err(match error {
                            Error::Transport { action, message, .. } => {
                                Error::Transport { action, message, attempts: tried }
                            }
                            other => other,
                        });
                    }
                    let delay = server_delay.map_or_else(|| self.retry.delay(tried), |d| d.min(self.retry.max_delay));
                    self.tracker.notice(format!(
                        "attempt {tried} of {attempts} failed, retrying in {:.1}s: {error}",
                        delay.as_secs_f64()
                    ));
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

/// Passes a success through; turns anything else into the right kind of failure.
pub(super) async fn check(
    response: Response,
    action: &str,
    repository: &str,
    tag: Option<&str>,
) -> Result<Response, Failure> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let server_delay = retry_after(response.headers());
    let challenge =
        bearer_challenge(response.headers().get_all(WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()));
    let body = read_error_body(response).await;
    let error = from_response(action, repository, tag, status.as_u16(), &body);
    // A HEAD's 403 has no body to tell an expired token from a missing permission: it gets the one refresh too,
    // and a real denial then fails with the same answer.
    let refused = status == StatusCode::FORBIDDEN && (body.is_empty() || token_expired(&body));
    Err(if status == StatusCode::UNAUTHORIZED {
        Failure::Auth(error, challenge.map(Box::new))
    } else if refused {
        Failure::Auth(error, None)
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        Failure::Throttled(error, server_delay)
    } else if status.is_server_error() {
        Failure::Retry(error, server_delay)
    } else {
        Failure::Fatal(error)
    })
}

/// ECR answers an expired token with 403 `DENIED` "Your authorization token has expired. Reauthenticate and try
/// again." rather than 401; any other 403 with a body (a missing IAM permission, a quota) is final.
fn token_expired(body: &[u8]) -> bool {
    let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(body) else { return false };
    let errors = parsed.get("errors").and_then(|e| e.as_array()).map(Vec::as_slice).unwrap_or_default();
    errors.iter().any(|error| {
        let message = error.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_ascii_lowercase();
        error.get("code").and_then(|c| c.as_str()) == Some("DENIED")
            && (message.contains("expired") || message.contains("reauthenticate"))
    })
}

async fn read_error_body(mut response: Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(MAX_ERROR_BODY - body.len())]),
            _ => break,
        }
    }
    body
}

/// Only the delay-seconds form; an HTTP-date is rare from registries and the backoff covers it.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// The registry names the digest it stored; if that isn't ours, what landed is not what was meant.
pub(super) fn expect_digest(headers: &HeaderMap, expected: &str, action: &str) -> Result<(), Failure> {
    match headers.get(DOCKER_CONTENT_DIGEST).and_then(|value| value.to_str().ok()) {
        Some(stored) if stored.starts_with("sha256:") && stored != expected => {
            Err(Failure::Fatal(Error::Protocol { action: action.into(), what: format!("back digest {stored}") }))
        }
        _ => Ok(()),
    }
}

impl RegistrySession<'_> {
    /// A request that got no answer. Connection and timeout failures name the host, since the action names only
    /// the repository; the OS reason comes from walking the error's source chain.
    pub(super) fn transport(&self, action: &str, error: reqwest::Error) -> Failure {
        let host = self.registry.base_url.split_once("://").map_or(self.registry.base_url.as_str(), |(_, host)| host);
        let failure = transport(action, error);
        match failure {
            Failure::Retry(Error::Transport { action, message, attempts }, delay) if !message.contains(host) => {
                Failure::Retry(Error::Transport { action, message: format!("{host}: {message}"), attempts }, delay)
            }
            other => other,
        }
    }
}

/// A request error in words: its own text and every cause's, with the OS reason, and what to do about an untrusted
/// certificate.
fn transport_message(error: reqwest::Error) -> String {
    describe_transport(&error.without_url())
}

fn describe_transport(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    if message.contains("certificate") {
        message.push_str(
            " (the registry's certificate is not trusted: on Linux point SSL_CERT_FILE at a bundle with its CA)",
        );
    }
    message
}

fn transport(action: &str, error: reqwest::Error) -> Failure {
    // The action already names the resource; the URL would only add the upload session's opaque state.
    let error = error.without_url();
    let message = describe_transport(&error);
    // A certificate the client doesn't trust won't become trusted by retrying.
    let untrusted = message.contains("certificate");
    let error_value = Error::Transport { action: action.to_string(), message, attempts: 1 };
    if error.is_builder() || untrusted { Failure::Fatal(error_value) } else { Failure::Retry(error_value, None) }
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_an_expired_token_403_earns_a_refresh() {
        let body =
            |code: &str, message: &str| serde_json::json!({"errors": [{"code": code, "message": message}]}).to_string();
        let cases = [
            (body("DENIED", "Your authorization token has expired. Reauthenticate and try again."), true),
            (body("DENIED", "User: arn:aws:sts::1:assumed-role/ci is not authorized to perform: ecr:PutImage"), false),
            (body("TOOMANYREQUESTS", "expired"), false),
            ("not json".to_string(), false),
        ];
        for (text, expected) in cases {
            assert_eq!(token_expired(text.as_bytes()), expected, "{text}");
        }
    }
    use super::super::auth::StaticAuth;
    use super::*;
    use crate::error::{EXIT_BAD_INPUT, exit_code};

    #[test]
    fn registry_urls_and_repositories_are_checked() {
        let auth: Arc<dyn RegistryAuth> =
            Arc::new(StaticAuth(Credentials { username: "AWS".into(), password: "secret".into() }));
        let registry = Registry::new("http://127.0.0.1:5001/", "team/app", auth.clone()).unwrap();
        assert_eq!(registry.base_url(), "http://127.0.0.1:5001");
        assert!(!format!("{registry:?}").contains("secret"));
        for bad in ["ftp://host", "127.0.0.1:5001", "https://host?x=1"] {
            assert_eq!(exit_code(&Registry::new(bad, "team/app", auth.clone()).unwrap_err()), EXIT_BAD_INPUT);
        }
        assert_eq!(exit_code(&Registry::new("https://h", "Team/App", auth).unwrap_err()), EXIT_BAD_INPUT);
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        let policy =
            RetryPolicy { attempts: 5, base_delay: Duration::from_millis(100), max_delay: Duration::from_millis(1000) };
        for attempt in 1..=8 {
            let ceiling = Duration::from_millis((100u64 << (attempt - 1)).min(1000));
            let delay = policy.delay(attempt);
            assert!(delay >= ceiling / 2 && delay <= ceiling, "attempt {attempt}: {delay:?} vs {ceiling:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn a_different_stored_digest_is_an_error() {
        let mut headers = HeaderMap::new();
        assert!(expect_digest(&headers, "sha256:aa", "act").is_ok());
        headers.insert(DOCKER_CONTENT_DIGEST, "sha256:bb".parse().unwrap());
        assert!(matches!(expect_digest(&headers, "sha256:aa", "act"), Err(Failure::Fatal(_))));
        assert!(expect_digest(&headers, "sha256:bb", "act").is_ok());
    }
}
