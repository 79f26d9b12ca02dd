//! Blob uploads: a HEAD to skip what the registry already has (unless the caller already knows), else a POST for an upload URL and one streamed
//! PUT of the whole blob.
//!
//! Uploads are monolithic (a known Content-Length, never chunked PATCH) because ECR mishandles chunked uploads.
//! A blob is read in fixed chunks and hashed as it goes; a blob that doesn't match its descriptor fails before
//! its last chunk, so it never reaches the registry complete. A failed attempt starts over from the POST with the
//! file re-opened, since an interrupted upload session can't be trusted to resume.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::stream;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::digest::hex;

use super::error::Error;
use super::image_plan::Blob;
use super::progress::Track;
use super::transport::{AttemptCredentials, Failure, RegistrySession, SMALL_REQUEST_TIMEOUT, check, expect_digest};

/// Read size for streaming blobs: large enough for throughput, small enough that a few uploads in flight stay
/// far below the memory budget.
const CHUNK: usize = 256 * 1024;

impl RegistrySession<'_> {
    /// Makes the blob present; returns the bytes uploaded, or `None` when the registry already had it. `known` is
    /// whether the blob is present when that is already known; otherwise a HEAD asks.
    pub(super) async fn ensure_blob(
        &self,
        blob: &Blob,
        track: Arc<Track>,
        known: Option<bool>,
    ) -> Result<Option<u64>, Error> {
        let label = format!("{} {}", blob.kind.label(), blob.digest);
        let exists = match known {
            Some(present) => Ok(present),
            None => self.blob_exists(blob, &label).await,
        };
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

    /// A HEAD of the blob: true when the registry has it.
    async fn blob_exists(&self, blob: &Blob, label: &str) -> Result<bool, Error> {
        let check_action = format!("checking for {label} in {}", self.repository());
        let blob_url = self.url(&format!("blobs/{}", blob.digest))?;
        self.with_retries(&check_action, |credentials| {
            let request = self.request(Method::HEAD, blob_url.clone(), &credentials).timeout(SMALL_REQUEST_TIMEOUT);
            let action = check_action.as_str();
            async move {
                let response = request.send().await.map_err(|e| self.transport(action, e))?;
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
        .await
    }

    async fn upload_once(
        &self,
        blob: &Blob,
        track: Arc<Track>,
        credentials: AttemptCredentials,
        action: &str,
    ) -> Result<(), Failure> {
        let start = self.url("blobs/uploads/").map_err(Failure::Fatal)?;
        let response = self
            .request(Method::POST, start, &credentials)
            .header(CONTENT_LENGTH, 0)
            .timeout(SMALL_REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.transport(action, e))?;
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
        let response = sent.map_err(|e| self.transport(action, e))?;
        let response = check(response, action, self.repository(), None).await?;
        expect_digest(response.headers(), &blob.digest, action)?;
        Ok(())
    }
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
