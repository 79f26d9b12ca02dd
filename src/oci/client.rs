//! The distribution-API side of a push: blob existence checks, monolithic uploads streamed from disk, manifest
//! puts, and the retry, backoff and credential-refresh policy around every request.
//!
//! Uploads are monolithic (POST for an upload URL, then one PUT with the whole blob and a known Content-Length)
//! because ECR mishandles chunked PATCH uploads. A blob is read in fixed chunks and hashed as it goes; the last
//! chunk is held back until the digest is known, so a blob that doesn't match its descriptor never reaches the
//! registry complete. A failed attempt starts over from the POST with the file re-opened, since an interrupted
//! upload session can't be trusted to resume.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Method, Response, StatusCode, Url};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::error::{Error, from_response};
use crate::digest::{hex, short_digest};
use crate::media_type::MANIFEST_MEDIA_TYPES;

use super::plan::{Blob, Manifest, Plan};
use super::progress::{Progress, Track, Tracker};
use super::{Credentials, PushOptions, PushedImage, Registry, RegistryAuth, RetryPolicy};

/// Read size for streaming blobs: large enough for throughput, small enough that a few uploads in flight stay
/// far below the memory budget.
const CHUNK: usize = 256 * 1024;
/// Error bodies are short JSON; anything longer is cut rather than buffered.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Small requests (HEAD, POST, manifest PUT) that take longer than this are stuck, not slow.
const SMALL_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// How one attempt ended, which decides what the retry loop does next.
enum Failure {
    /// Worth another attempt after a pause (5xx, 429, connection trouble); the server may say how long to wait.
    Retry(Error, Option<Duration>),
    /// 401: refresh the credentials once, then try again.
    Auth(Error),
    Fatal(Error),
}

/// The credentials in use, and the one refresh a push may do.
struct AuthState {
    provider: Arc<dyn RegistryAuth>,
    current: Mutex<(u64, Arc<Credentials>)>,
    refresh_used: tokio::sync::Mutex<bool>,
}

impl AuthState {
    fn current(&self) -> (u64, Arc<Credentials>) {
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
        let fresh = self
            .provider
            .credentials(true)
            .await
            .map_err(|e| Error::Credentials { action: action.to_string(), message: format!("{e:#}") })?;
        let mut current = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = (generation + 1, Arc::new(fresh));
        Ok(true)
    }
}

struct Session<'a> {
    registry: &'a Registry,
    auth: AuthState,
    retry: RetryPolicy,
    tracker: &'a Tracker,
}

/// Pushes a resolved plan: all blobs, then child manifests by digest, then the top manifest once per tag.
pub(super) async fn push_plan(
    plan: &Plan,
    registry: &Registry,
    tags: &[String],
    options: &PushOptions,
) -> Result<PushedImage, Error> {
    let repository = registry.repository.as_str();
    let tracker = Tracker::new(options.progress);
    let session = Session::open(registry, options.retry.clone(), &tracker, &format!("pushing to {repository}")).await?;

    let jobs: Vec<(&Blob, Arc<Track>)> = plan
        .blobs
        .iter()
        .map(|blob| (blob, tracker.track(format!("{} {}", blob.kind.label(), short_digest(&blob.digest)), blob.size)))
        .collect();
    let uploads = stream::iter(jobs)
        .map(|(blob, track)| session.ensure_blob(blob, track))
        .buffer_unordered(options.concurrency.max(1))
        .try_fold((0usize, 0usize, 0u64), |(uploaded, skipped, bytes), sent| async move {
            Ok(match sent {
                Some(size) => (uploaded + 1, skipped, bytes + size),
                None => (uploaded, skipped + 1, bytes),
            })
        });
    let outcome = tokio::select! {
        outcome = uploads => outcome,
        () = tracker.run() => unreachable_ticker(),
    };
    tracker.finish();
    // Dropping the stream above on the first error cancels the other uploads: nothing below runs, so no manifest
    // is ever put while one of its blobs may be missing.
    let (blobs_uploaded, blobs_skipped, bytes_uploaded) = outcome?;

    for child in &plan.children {
        session.put_manifest(child, &child.digest, None).await?;
        tracker.note(&format!("manifest {}: pushed", short_digest(&child.digest)));
    }
    let top = &plan.top;
    if tags.is_empty() {
        session.put_manifest(top, &top.digest, None).await?;
        tracker.note(&format!("manifest {}: pushed to {repository} (no tag)", short_digest(&top.digest)));
    }
    // The blobs and children are all present now, so the tags can go up together.
    let (session, tracker) = (&session, &tracker);
    let tagging = tags.iter().map(|tag| async move {
        session.put_manifest(top, tag, Some(tag)).await?;
        tracker.note(&format!("manifest {}: tagged {repository}:{tag}", short_digest(&top.digest)));
        Ok::<(), Error>(())
    });
    futures_util::future::try_join_all(tagging).await?;
    Ok(PushedImage {
        digest: top.digest.clone(),
        media_type: top.media_type.clone(),
        manifest: top.bytes.clone(),
        blobs_uploaded,
        blobs_skipped,
        bytes_uploaded,
    })
}

/// `Tracker::run` renders forever; this keeps the `select!` arms the same type.
fn unreachable_ticker() -> Result<(usize, usize, u64), Error> {
    Err(Error::Protocol { action: "showing progress".into(), what: "an end to the progress ticker".into() })
}

/// Reads a manifest by tag or digest through the same retrying, re-authenticating path as a push.
pub(super) async fn get_manifest(
    registry: &Registry,
    reference: &str,
    retry: RetryPolicy,
) -> Result<(Vec<u8>, String), Error> {
    let tracker = Tracker::new(Progress::Quiet);
    let action = format!("reading manifest {reference} of {}", registry.repository);
    let session = Session::open(registry, retry, &tracker, &action).await?;
    session.get_manifest(reference, &action).await
}

impl<'a> Session<'a> {
    /// Starts a session with the first (unrefreshed) credentials; `action` names the work if getting them fails.
    async fn open(
        registry: &'a Registry,
        retry: RetryPolicy,
        tracker: &'a Tracker,
        action: &str,
    ) -> Result<Session<'a>, Error> {
        let provider = registry.auth.clone();
        let first = provider
            .credentials(false)
            .await
            .map_err(|e| Error::Credentials { action: action.to_string(), message: format!("{e:#}") })?;
        Ok(Session {
            registry,
            tracker,
            auth: AuthState {
                provider,
                current: Mutex::new((0, Arc::new(first))),
                refresh_used: tokio::sync::Mutex::new(false),
            },
            retry,
        })
    }
}

impl Session<'_> {
    async fn get_manifest(&self, reference: &str, action: &str) -> Result<(Vec<u8>, String), Error> {
        let url = self.url(&format!("manifests/{reference}"))?;
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        self.with_retries(action, |credentials| {
            let request = self
                .request(Method::GET, url.clone(), &credentials)
                .header(ACCEPT, accept.as_str())
                .timeout(SMALL_REQUEST_TIMEOUT);
            async move {
                let response = request.send().await.map_err(|e| transport(action, e))?;
                let response = check(response, action, self.repository(), None).await?;
                let media_type = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
                    .unwrap_or_default();
                let bytes = response.bytes().await.map_err(|e| transport(action, e))?;
                Ok((bytes.to_vec(), media_type))
            }
        })
        .await
    }

    fn repository(&self) -> &str {
        &self.registry.repository
    }

    fn url(&self, tail: &str) -> Result<Url, Error> {
        let text = format!("{}/v2/{}/{tail}", self.registry.base_url, self.registry.repository);
        Url::parse(&text)
            .map_err(|e| Error::Protocol { action: format!("building the URL {text}"), what: e.to_string() })
    }

    fn request(&self, method: Method, url: Url, credentials: &Credentials) -> reqwest::RequestBuilder {
        self.registry.http.request(method, url).basic_auth(&credentials.username, Some(&credentials.password))
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retry budget is spent.
    async fn with_retries<T, F, Fut>(&self, action: &str, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut(Arc<Credentials>) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let attempts = self.retry.attempts.max(1);
        let mut tried = 0u32;
        loop {
            tried += 1;
            let (generation, credentials) = self.auth.current();
            let failure = match attempt(credentials).await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            match failure {
                Failure::Fatal(error) => return Err(error),
                Failure::Auth(error) => {
                    if tried >= attempts || !self.auth.refresh(generation, action).await? {
                        return Err(error);
                    }
                    self.tracker
                        .notice(format!("{action}: the registry answered 401; retrying with fresh credentials"));
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

    /// Makes the blob present; returns the bytes uploaded, or `None` when the registry already had it.
    async fn ensure_blob(&self, blob: &Blob, track: Arc<Track>) -> Result<Option<u64>, Error> {
        let label = format!("{} {}", blob.kind.label(), blob.digest);
        let check_action = format!("checking for {label} in {}", self.repository());
        let blob_url = self.url(&format!("blobs/{}", blob.digest))?;
        let exists = self
            .with_retries(&check_action, |credentials| {
                let request = self.request(Method::HEAD, blob_url.clone(), &credentials).timeout(SMALL_REQUEST_TIMEOUT);
                let action = check_action.as_str();
                async move {
                    let response = request.send().await.map_err(|e| transport(action, e))?;
                    if response.status() == StatusCode::NOT_FOUND {
                        return Ok(false);
                    }
                    // A registry that redirects a blob to its storage has the blob; redirects aren't followed
                    // because a presigned storage URL is valid for GET only.
                    if response.status().is_redirection() {
                        return Ok(true);
                    }
                    check(response, action, self.repository(), None).await?;
                    Ok(true)
                }
            })
            .await;
        match exists {
            Ok(true) => {
                track.skipped();
                return Ok(None);
            }
            Ok(false) => {}
            Err(error) => {
                track.failed();
                return Err(error);
            }
        }
        let action = format!("uploading {label} to {}", self.repository());
        let uploaded =
            self.with_retries(&action, |credentials| self.upload_once(blob, track.clone(), credentials, &action)).await;
        match uploaded {
            Ok(()) => {
                track.done();
                Ok(Some(blob.size))
            }
            Err(error) => {
                track.failed();
                Err(error)
            }
        }
    }

    async fn upload_once(
        &self,
        blob: &Blob,
        track: Arc<Track>,
        credentials: Arc<Credentials>,
        action: &str,
    ) -> Result<(), Failure> {
        let start = self.url("blobs/uploads/").map_err(Failure::Fatal)?;
        let response = self
            .request(Method::POST, start, &credentials)
            .header(CONTENT_LENGTH, 0)
            .timeout(SMALL_REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| transport(action, e))?;
        let response = check(response, action, self.repository(), None).await?;
        let location = response.headers().get(LOCATION).and_then(|value| value.to_str().ok()).ok_or_else(|| {
            Failure::Fatal(Error::Protocol { action: action.into(), what: "no Location for the upload".into() })
        })?;
        // Registries may answer with a relative Location; it is relative to the URL that was requested.
        let mut put_url = response.url().join(location).map_err(|e| {
            Failure::Fatal(Error::Protocol { action: action.into(), what: format!("a bad upload Location: {e}") })
        })?;
        put_url.query_pairs_mut().append_pair("digest", &blob.digest);

        let failure = Arc::new(Mutex::new(None));
        let body = open_blob(blob, track.clone(), failure.clone(), action).await.map_err(Failure::Fatal)?;
        track.start();
        let sent = self
            .request(Method::PUT, put_url, &credentials)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, blob.size)
            .body(body)
            .send()
            .await;
        // A local problem (corrupt or unreadable file) aborted the body; report it, not the broken request.
        if let Some(error) = failure.lock().ok().and_then(|mut slot| slot.take()) {
            return Err(Failure::Fatal(error));
        }
        let response = sent.map_err(|e| transport(action, e))?;
        let response = check(response, action, self.repository(), None).await?;
        expect_digest(response.headers(), &blob.digest, action)?;
        Ok(())
    }

    async fn put_manifest(&self, manifest: &Manifest, reference: &str, tag: Option<&str>) -> Result<(), Error> {
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
                let response = request.send().await.map_err(|e| transport(action, e))?;
                let response = check(response, action, repository, tag).await?;
                expect_digest(response.headers(), &manifest.digest, action)
            }
        })
        .await
    }
}

/// Passes a success through; turns anything else into the right kind of failure.
async fn check(response: Response, action: &str, repository: &str, tag: Option<&str>) -> Result<Response, Failure> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let server_delay = retry_after(response.headers());
    let body = read_error_body(response).await;
    let error = from_response(action, repository, tag, status.as_u16(), &body);
    Err(if status == StatusCode::UNAUTHORIZED {
        Failure::Auth(error)
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Failure::Retry(error, server_delay)
    } else {
        Failure::Fatal(error)
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
fn expect_digest(headers: &HeaderMap, expected: &str, action: &str) -> Result<(), Failure> {
    match headers.get(DOCKER_CONTENT_DIGEST).and_then(|value| value.to_str().ok()) {
        Some(stored) if stored.starts_with("sha256:") && stored != expected => {
            Err(Failure::Fatal(Error::Protocol { action: action.into(), what: format!("back digest {stored}") }))
        }
        _ => Ok(()),
    }
}

fn transport(action: &str, error: reqwest::Error) -> Failure {
    // The action already names the resource; the URL would only add the upload session's opaque state.
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    // A certificate the client doesn't trust won't become trusted by retrying.
    let untrusted = message.contains("certificate");
    if untrusted {
        message.push_str(
            " (the registry's certificate is not trusted: on Linux point SSL_CERT_FILE at a bundle with its CA)",
        );
    }
    let error_value = Error::Transport { action: action.to_string(), message, attempts: 1 };
    if error.is_builder() || untrusted { Failure::Fatal(error_value) } else { Failure::Retry(error_value, None) }
}

/// Opens the blob's byte range and wraps it in a body that hashes as it streams.
async fn open_blob(
    blob: &Blob,
    track: Arc<Track>,
    failure: Arc<Mutex<Option<Error>>>,
    action: &str,
) -> Result<reqwest::Body, Error> {
    let local = |e: std::io::Error| Error::LocalRead {
        action: action.to_string(),
        message: format!("{}: {e}", blob.path.display()),
    };
    let mut file = tokio::fs::File::open(&blob.path).await.map_err(local)?;
    file.seek(std::io::SeekFrom::Start(blob.offset)).await.map_err(local)?;
    let state = BodyState {
        file,
        remaining: blob.size,
        hasher: Sha256::new(),
        expected: blob.digest.clone(),
        path: blob.path.display().to_string(),
        action: action.to_string(),
        track,
        failure,
    };
    Ok(reqwest::Body::wrap_stream(stream::try_unfold(state, next_chunk)))
}

struct BodyState {
    file: tokio::fs::File,
    remaining: u64,
    hasher: Sha256,
    expected: String,
    path: String,
    action: String,
    track: Arc<Track>,
    failure: Arc<Mutex<Option<Error>>>,
}

impl BodyState {
    fn fail(&self, error: Error) -> std::io::Error {
        let text = error.to_string();
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(error);
        }
        std::io::Error::other(text)
    }
}

async fn next_chunk(mut state: BodyState) -> Result<Option<(Bytes, BodyState)>, std::io::Error> {
    if state.remaining == 0 {
        return Ok(None);
    }
    let want = usize::try_from(state.remaining).map_or(CHUNK, |remaining| remaining.min(CHUNK));
    let mut buffer = BytesMut::zeroed(want);
    let mut filled = 0;
    while filled < want {
        let read = match state.file.read(&mut buffer[filled..]).await {
            Ok(read) => read,
            Err(e) => {
                let message = format!("{}: {e}", state.path);
                return Err(state.fail(Error::LocalRead { action: state.action.clone(), message }));
            }
        };
        if read == 0 {
            let message = format!("{} ended {} bytes early", state.path, state.remaining - filled as u64);
            return Err(state.fail(Error::LocalRead { action: state.action.clone(), message }));
        }
        filled += read;
    }
    state.hasher.update(&buffer[..]);
    state.remaining -= want as u64;
    if state.remaining == 0 {
        let actual = format!("sha256:{}", hex(&std::mem::take(&mut state.hasher).finalize()));
        if actual != state.expected {
            return Err(state.fail(Error::BlobCorrupt { action: state.action.clone(), actual }));
        }
    }
    state.track.add(want as u64);
    Ok(Some((buffer.freeze(), state)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
