//! The order of a push: every blob is made present first (in parallel, bounded), then child manifests by digest,
//! and only then the top-level manifest once per tag, so a manifest is never published while one of its blobs
//! could be missing. Also the options and the result of a push.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt, stream};

use crate::digest::short_digest;

use super::error::Error;
use super::image_plan::{Blob, ImagePlan, SourcePlan};
use super::progress::{Progress, Track, Tracker};
use super::transport::{Registry, RegistrySession, RetryPolicy};

/// How a push behaves.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Blob uploads in flight at once. Four saturates a CI runner's uplink to ECR without holding many
    /// connections; each upload holds only a 256 KiB read buffer.
    pub concurrency: usize,
    pub progress: Progress,
    /// Limit for the whole push; `None` waits as long as it takes.
    pub timeout: Option<Duration>,
    pub retry: RetryPolicy,
    /// The blobs the repository is known to store already, learnt another way (ECR's API) while the push waited for
    /// its token anyway. When set, every blob not in it is known to be missing, so no blob is checked with a HEAD:
    /// present ones are skipped and missing ones uploaded at once. `None` checks each blob on the registry.
    pub present: Option<Arc<HashSet<String>>>,
}

impl Default for PushOptions {
    fn default() -> PushOptions {
        PushOptions {
            concurrency: 4,
            progress: Progress::Auto,
            timeout: None,
            retry: RetryPolicy::default(),
            present: None,
        }
    }
}

/// The result of a push.
#[derive(Debug, Clone)]
pub struct PushedImage {
    /// `sha256:…` of the exact top-level manifest bytes: what `<repo>@<digest>` pins.
    pub digest: String,
    pub media_type: String,
    pub manifest: Vec<u8>,
    pub blobs_uploaded: usize,
    /// Blobs the registry already had (HEAD answered 200).
    pub blobs_skipped: usize,
    pub bytes_uploaded: u64,
}

/// Pushes the planned image to `registry`, tagged with each of `tags` (by digest only when there are none).
///
/// Failures are `anyhow` errors whose root is an [`Error`] for registry and transfer problems (downcast to detect
/// [`Error::TagImmutable`]), or a [`BadInput`](crate::error::BadInput) when the source or a tag is unusable.
pub async fn push(
    plan: &SourcePlan,
    registry: &Registry,
    tags: &[String],
    options: &PushOptions,
) -> anyhow::Result<PushedImage> {
    for tag in tags {
        crate::names::validate_tag(tag)?;
    }
    let work = push_plan(plan.plan(), registry, tags, options);
    let pushed = match options.timeout {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .map_err(|_| Error::Timeout { repository: registry.repository().to_string(), after: limit })?,
        None => work.await,
    };
    Ok(pushed?)
}

/// The tag ECR refused to overwrite, when `error` is the immutable-tag refusal.
pub fn immutable_tag(error: &anyhow::Error) -> Option<&str> {
    error.downcast_ref::<Error>().and_then(Error::immutable_tag)
}

/// Pushes a resolved plan: all blobs, then child manifests by digest, then the top manifest once per tag.
async fn push_plan(
    plan: &ImagePlan,
    registry: &Registry,
    tags: &[String],
    options: &PushOptions,
) -> Result<PushedImage, Error> {
    let repository = registry.repository.as_str();
    let tracker = Tracker::new(options.progress);
    let session =
        RegistrySession::open(registry, options.retry.clone(), &tracker, &format!("pushing to {repository}")).await?;

    let jobs: Vec<(&Blob, Arc<Track>)> = plan
        .blobs
        .iter()
        .map(|blob| (blob, tracker.track(format!("{} {}", blob.kind.label(), short_digest(&blob.digest)), blob.size)))
        .collect();
    let uploads = stream::iter(jobs)
        .map(|(blob, track)| {
            let known = options.present.as_ref().map(|present| present.contains(&blob.digest));
            session.ensure_blob(blob, track, known)
        })
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
