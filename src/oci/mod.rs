//! Native, daemonless image push: reads an OCI image layout or a `docker save` archive from disk and pushes it
//! to a registry (ECR in production) over the OCI distribution API, without docker, podman or skopeo.
//!
//! This module owns the public API ([`ImageSource`], [`Registry`], [`RegistryAuth`], [`PushOptions`], [`push`])
//! and the order of a push: the source is resolved into a plan before anything is contacted (bad input fails with
//! exit 2 and nothing sent), then every blob is made present (HEAD, else POST + one streamed PUT), then child
//! manifests by digest, and only then the top-level manifest once per tag. A manifest is therefore never published
//! while one of its blobs could be missing.
//!
//! Submodules: `layout` and `archive` read the two source formats into a `plan`; `client` speaks HTTP with
//! retries; `progress` draws on stderr; `error` holds the typed failures callers can match on.

mod archive;
mod client;
mod error;
mod layout;
mod plan;
mod progress;

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::bail_input;

pub use error::Error;
pub use progress::Progress;

/// Where the image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// An OCI image layout directory; `reference` selects an image by its `org.opencontainers.image.ref.name`
    /// annotation (or manifest digest) when the layout holds several.
    OciLayout { dir: PathBuf, reference: Option<String> },
    /// A `docker save` tar; `reference` selects an image by one of its RepoTags when the archive holds several.
    DockerArchive { file: PathBuf, reference: Option<String> },
}

const SOURCE_FORMS: &str = "oci:DIR, oci:DIR:REF, docker-archive:FILE or docker-archive:FILE:TAG";

impl ImageSource {
    /// Parses `oci:DIR[:REF]` or `docker-archive:FILE[:TAG]`. The path must exist; since paths may themselves
    /// contain ':', the longest prefix that exists is the path and the rest is the reference.
    pub fn parse(spec: &str) -> anyhow::Result<ImageSource> {
        if let Some(rest) = spec.strip_prefix("oci:") {
            let (dir, reference) = split_existing(rest, Path::is_dir).ok_or_else(|| {
                crate::error::bad_input(format!(
                    "image source '{spec}': no directory '{}' (expected {SOURCE_FORMS})",
                    rest.split(':').next().unwrap_or(rest)
                ))
            })?;
            return Ok(ImageSource::OciLayout { dir, reference });
        }
        if let Some(rest) = spec.strip_prefix("docker-archive:") {
            let (file, reference) = split_existing(rest, Path::is_file).ok_or_else(|| {
                crate::error::bad_input(format!(
                    "image source '{spec}': no file '{}' (expected {SOURCE_FORMS})",
                    rest.split(':').next().unwrap_or(rest)
                ))
            })?;
            return Ok(ImageSource::DockerArchive { file, reference });
        }
        bail_input!("unsupported image source '{spec}': expected {SOURCE_FORMS}")
    }

    /// Reads the source into the plan a push follows, without any network access. The summary says what would
    /// be pushed (for dry runs and "is this digest already tagged" checks); [`push`] then pushes exactly this plan,
    /// so the source is read once and what was judged is what is sent.
    pub fn plan(&self) -> anyhow::Result<SourcePlan> {
        let plan = match self {
            ImageSource::OciLayout { dir, reference } => layout::plan(dir, reference.as_deref()),
            ImageSource::DockerArchive { file, reference } => archive::plan(file, reference.as_deref()),
        }?;
        let summary = ResolvedImage {
            digest: plan.top.digest.clone(),
            media_type: plan.top.media_type.clone(),
            manifest: plan.top.bytes.clone(),
            blobs: plan.blobs.len(),
            bytes: plan.blobs.iter().map(|b| b.size).sum(),
        };
        Ok(SourcePlan { plan, summary })
    }
}

/// A source read and resolved: every blob (as a byte range of a local file), the child manifests and the
/// top-level manifest. Blobs are re-hashed as they stream, so a file changed since planning fails the push
/// rather than publishing other bytes.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    plan: plan::Plan,
    summary: ResolvedImage,
}

impl SourcePlan {
    /// What this plan pushes: the top-level manifest, its digest and the blob totals.
    pub fn summary(&self) -> &ResolvedImage {
        &self.summary
    }
}

/// `rest` is `PATH` or `PATH:REF`; the split point is the first one whose path part exists.
fn split_existing(rest: &str, exists: impl Fn(&Path) -> bool) -> Option<(PathBuf, Option<String>)> {
    if rest.is_empty() {
        return None;
    }
    if exists(Path::new(rest)) {
        return Some((PathBuf::from(rest), None));
    }
    rest.match_indices(':').find_map(|(at, _)| {
        let (path, reference) = (&rest[..at], &rest[at + 1..]);
        (!path.is_empty() && !reference.is_empty() && exists(Path::new(path)))
            .then(|| (PathBuf::from(path), Some(reference.to_string())))
    })
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, path, reference) = match self {
            ImageSource::OciLayout { dir, reference } => ("oci", dir, reference),
            ImageSource::DockerArchive { file, reference } => ("docker-archive", file, reference),
        };
        write!(f, "{kind}:{}", path.display())?;
        match reference {
            Some(reference) => write!(f, ":{reference}"),
            None => Ok(()),
        }
    }
}

/// What a source resolves to, before anything is pushed.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    pub digest: String,
    pub media_type: String,
    pub manifest: Vec<u8>,
    /// Distinct blobs (configs and layers of every platform).
    pub blobs: usize,
    pub bytes: u64,
}

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

/// A repository on a registry, with the HTTP client and credentials used to reach it.
pub struct Registry {
    base_url: String,
    repository: String,
    auth: Arc<dyn RegistryAuth>,
    http: reqwest::Client,
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
        let http = reqwest::Client::builder()
            .user_agent(concat!("ecr-ship/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .tcp_keepalive(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("setting up the HTTP client: {e}"))?;
        Ok(Registry { base_url: trimmed.to_string(), repository: repository.to_string(), auth, http })
    }

    /// Reads a manifest back by tag or digest: its exact bytes and media type. Used to add tags server-side after
    /// an engine push, from the registry itself (always consistent with what was just pushed).
    pub async fn get_manifest(&self, reference: &str) -> anyhow::Result<(Vec<u8>, String)> {
        Ok(client::get_manifest(self, reference, RetryPolicy::default()).await?)
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }
}

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
    fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self.base_delay.saturating_mul(1u32 << exponent).min(self.max_delay);
        let random = getrandom::u64().unwrap_or_else(|_| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos().into())
        });
        let fraction = 0.5 + (random % 1_000_000) as f64 / 2_000_000.0;
        ceiling.mul_f64(fraction)
    }
}

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
}

impl Default for PushOptions {
    fn default() -> PushOptions {
        PushOptions { concurrency: 4, progress: Progress::Auto, timeout: None, retry: RetryPolicy::default() }
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
    let work = client::push_plan(&plan.plan, registry, tags, options);
    let pushed = match options.timeout {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .map_err(|_| Error::Timeout { repository: registry.repository.clone(), after: limit })?,
        None => work.await,
    };
    Ok(pushed?)
}

/// The tag ECR refused to overwrite, when `error` is the immutable-tag refusal.
pub fn immutable_tag(error: &anyhow::Error) -> Option<&str> {
    error.downcast_ref::<Error>().and_then(Error::immutable_tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EXIT_BAD_INPUT, exit_code};

    #[test]
    fn sources_parse_with_and_without_reference() {
        let dir = std::env::temp_dir();
        let text = dir.display().to_string();
        assert_eq!(
            ImageSource::parse(&format!("oci:{text}")).unwrap(),
            ImageSource::OciLayout { dir: dir.clone(), reference: None }
        );
        assert_eq!(
            ImageSource::parse(&format!("oci:{text}:v1.2")).unwrap(),
            ImageSource::OciLayout { dir: dir.clone(), reference: Some("v1.2".into()) }
        );
        // A reference may itself hold ':' (a full image name); the path is the part that exists.
        assert_eq!(
            ImageSource::parse(&format!("oci:{text}:example.com/app:v1")).unwrap(),
            ImageSource::OciLayout { dir: dir.clone(), reference: Some("example.com/app:v1".into()) }
        );
    }

    #[test]
    fn bad_sources_are_bad_input_naming_the_value_and_the_forms() {
        for spec in ["docker://x", "oci:/no/such/dir", "docker-archive:/no/such.tar", "oci:", "image.tar"] {
            let error = ImageSource::parse(spec).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{spec}");
            let text = error.to_string();
            assert!(text.contains(spec) && text.contains("oci:DIR:REF"), "{text}");
        }
        let dir = std::env::temp_dir().display().to_string();
        assert!(ImageSource::parse(&format!("docker-archive:{dir}")).is_err(), "a directory is not an archive");
    }

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
    fn credentials_never_print_the_password() {
        let credentials = Credentials { username: "AWS".into(), password: "token-123".into() };
        assert!(!format!("{credentials:?}").contains("token-123"));
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
}
