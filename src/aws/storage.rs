//! What a repository stores and what that costs a month: the job summary's storage line after a push or a prune.
//!
//! ECR bills the bytes it stores, and images share layers, so the size is the sum of the distinct blobs (configs and
//! layers) that the repository's manifests name, each counted once: DescribeImages lists the manifests, BatchGetImage
//! reads them (100 at a time, an index's children followed), and their descriptors give the sizes. DescribeImages'
//! own `imageSizeInBytes` is per image and would count a shared base layer once per image. Both calls are in the
//! push policy already (`ecr:DescribeImages`, `ecr:BatchGetImage`), so measuring needs no wider role.
//!
//! ECR Public has no BatchGetImage: [`public_repository_footprint`] lists with its DescribeImages and reads each
//! manifest through a closure the caller gives (the registry client, which lives in the oci room, not here); both
//! walks share [`Walk`] and [`walk_manifests`].
//!
//! The price is the region's public storage price per GB-month from [`PRICES`] (or `--price-per-gb`); for ECR
//! Public, the size against its 50 GB free tier and the excess at [`PUBLIC_PRICE`] (docs/ecr-behaviour.md §18).
//! Formatting is pure ([`storage_summary`], [`storage_line`]).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use anyhow::Context;

use aws_sdk_ecr::types::ImageIdentifier;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::Session;
use super::errors::{ApiCall, endpoint, policy_hint};
use crate::host::Partition;
use crate::media_type::MANIFEST_MEDIA_TYPES;

/// A repository's stored content, each blob counted once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Manifests stored (images, index children, attestations): what DescribeImages lists.
    pub manifests: usize,
    /// Distinct configs and layers.
    pub blobs: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// The distinct blobs of a set of manifests, gathered one manifest at a time.
#[derive(Debug, Default)]
struct Walk {
    read: BTreeSet<String>,
    blobs: BTreeMap<String, u64>,
}

impl Walk {
    /// Adds one manifest (digest and text); returns the children of an index not read yet.
    fn add(&mut self, digest: &str, text: &str) -> Vec<String> {
        self.read.insert(digest.to_string());
        let Ok(manifest) = serde_json::from_str::<Value>(text) else { return Vec::new() };
        let descriptor = |d: &Value| Some((d.get("digest")?.as_str()?.to_string(), d.get("size")?.as_u64()?));
        let mut children = Vec::new();
        if let Some(entries) = manifest.get("manifests").and_then(Value::as_array) {
            children.extend(entries.iter().filter_map(descriptor).map(|(digest, _)| digest));
        }
        let config = manifest.get("config").and_then(descriptor);
        let layers = manifest.get("layers").and_then(Value::as_array).into_iter().flatten().filter_map(descriptor);
        for (digest, size) in config.into_iter().chain(layers) {
            self.blobs.insert(digest, size);
        }
        children.retain(|child| !self.read.contains(child));
        children
    }

    fn footprint(&self) -> Footprint {
        Footprint { manifests: self.read.len(), blobs: self.blobs.len(), bytes: self.blobs.values().sum() }
    }
}

/// Reads the manifests `listed` names and every index child they lead to, each once, with `read`: given a batch of
/// digests, it answers each one's manifest text, or `None` for one no longer stored (deleted meanwhile).
async fn walk_manifests<Read, Reading>(listed: Vec<String>, mut read: Read) -> anyhow::Result<Footprint>
where
    Read: FnMut(Vec<String>) -> Reading,
    Reading: Future<Output = anyhow::Result<Vec<(String, Option<String>)>>>,
{
    let mut walk = Walk::default();
    let mut pending: Vec<String> = listed.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    while !pending.is_empty() {
        let mut found = Vec::new();
        for (digest, text) in read(std::mem::take(&mut pending)).await? {
            match text {
                Some(text) => found.extend(walk.add(&digest, &text)),
                // Not stored any more: counted as read, adding nothing.
                None => {
                    walk.read.insert(digest);
                }
            }
        }
        found.sort();
        found.dedup();
        found.retain(|digest| !walk.read.contains(digest));
        pending = found;
    }
    Ok(walk.footprint())
}

/// The repository's stored size, each layer and config counted once (DescribeImages, then BatchGetImage on every
/// manifest, index children followed). Private ECR only: an ECR Public repository is measured by
/// [`public_repository_footprint`]. Needs `ecr:DescribeImages` and `ecr:BatchGetImage`, both in the push policy.
/// Used by the summaries of push and prune; a failure there is a warning, never the command's failure.
pub async fn repository_footprint(session: &Session, repository: &str) -> anyhow::Result<Footprint> {
    if session.is_public() {
        anyhow::bail!("an ECR Public repository has no BatchGetImage: its manifests are read from the registry");
    }
    let (client, registry_id) = (session.ecr_client(), session.registry_account().map(String::from));
    let mut listed = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let page = client
            .describe_images()
            .set_registry_id(registry_id.clone())
            .repository_name(repository)
            .max_results(1000)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| failed(session, "DescribeImages", "ecr:DescribeImages", repository, e))?;
        listed.extend(page.image_details().iter().filter_map(|d| d.image_digest().map(String::from)));
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
            _ => break,
        }
    }
    let registry_id = &registry_id;
    walk_manifests(listed, |pending| async move {
        let mut manifests = Vec::new();
        // 100 ids a call (the API's limit), four calls at a time.
        for group in pending.chunks(400) {
            let calls = group.chunks(100).map(|chunk| {
                client
                    .batch_get_image()
                    .set_registry_id(registry_id.clone())
                    .repository_name(repository)
                    .set_image_ids(Some(
                        chunk.iter().map(|digest| ImageIdentifier::builder().image_digest(digest).build()).collect(),
                    ))
                    .set_accepted_media_types(Some(MANIFEST_MEDIA_TYPES.iter().map(|m| m.to_string()).collect()))
                    .send()
            });
            for output in futures_util::future::join_all(calls).await {
                let output =
                    output.map_err(|e| failed(session, "BatchGetImage", "ecr:BatchGetImage", repository, e))?;
                for image in output.images() {
                    let digest = image.image_id().and_then(|id| id.image_digest());
                    if let (Some(digest), Some(text)) = (digest, image.image_manifest()) {
                        manifests.push((digest.to_string(), Some(text.to_string())));
                    }
                }
                let failures = output.failures().iter();
                let gone = failures.filter_map(|failure| failure.image_id().and_then(|id| id.image_digest()));
                manifests.extend(gone.map(|digest| (digest.to_string(), None)));
            }
        }
        Ok(manifests)
    })
    .await
}

/// Manifests read from the registry at a time by [`public_repository_footprint`].
const PUBLIC_READS_AT_ONCE: usize = 8;

/// An ECR Public repository's stored size, each layer and config counted once: its DescribeImages (all pages, the
/// `ecr-public:DescribeImages` of the public push policy), then every manifest by digest through
/// `read_manifest` (the registry's GET /v2/ALIAS/REPOSITORY/manifests/DIGEST; `None` for one not stored any
/// more), index children followed, a few at a time.
pub async fn public_repository_footprint<Read, Reading>(
    session: &Session,
    repository: &str,
    read_manifest: Read,
) -> anyhow::Result<Footprint>
where
    Read: Fn(String) -> Reading,
    Reading: Future<Output = anyhow::Result<Option<String>>>,
{
    let measuring = || format!("measuring the stored size of public repository '{repository}'");
    let listed = session.public_image_digests(repository).await.with_context(measuring)?;
    let read_manifest = &read_manifest;
    let walked = walk_manifests(listed, |pending| async move {
        let reads = pending.into_iter().map(|digest| async move {
            let text = read_manifest(digest.clone()).await?;
            anyhow::Ok((digest, text))
        });
        futures_util::stream::iter(reads).buffer_unordered(PUBLIC_READS_AT_ONCE).try_collect().await
    });
    walked.await.with_context(measuring)
}

/// A failed call in the usual sentence (what was attempted on which resource, a denial's IAM action and what to
/// do), under what the walk was for.
fn failed<E>(
    session: &Session,
    operation: &'static str,
    action: &'static str,
    repository: &str,
    error: SdkError<E, HttpResponse>,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let call = ApiCall {
        operation,
        action,
        subject: format!("for '{repository}' in {}", session.region()),
        resource: session.repository_arn(repository),
        principal: session.caller_arn().map(String::from),
        hint: policy_hint(Some(repository)),
        endpoint: endpoint(session.sdk_config().endpoint_url(), "api.ecr", session.region()),
    };
    call.error(error).context(format!("measuring the stored size of '{repository}'"))
}

/// Public storage prices in USD per GB-month by partition: the Amazon ECR pricing page
/// (https://aws.amazon.com/ecr/pricing/), as of 2026-03, $0.10 in every commercial region it lists. Regions
/// of the other partitions (China, GovCloud) are priced apart and not in this table: `--price-per-gb` names one.
pub const PRICES: [(Partition, f64); 1] = [(Partition::Aws, 0.10)];
/// Where [`PRICES`] comes from, for the summary.
pub const PRICE_SOURCE: &str = "the public price of aws.amazon.com/ecr/pricing, 2026-03";
/// ECR Public's storage price in USD per GB-month beyond its free tier: the same pricing page, as of 2026-03.
pub const PUBLIC_PRICE: f64 = 0.10;
/// ECR Public's always-free storage, in GB-month: one allowance for the account, shared by all its public
/// repositories (the same pricing page).
pub const PUBLIC_FREE_TIER_GB: f64 = 50.0;
/// A GB of 2^30 bytes, as AWS's storage billing counts it (docs/ecr-behaviour.md §18: unconfirmed for ECR).
const GB: f64 = 1_073_741_824.0;

/// What a GB-month costs for this repository.
#[derive(Debug, Clone, PartialEq)]
pub enum StoragePrice {
    /// USD per GB-month and where the number comes from.
    PerGbMonth { usd: f64, source: String },
    /// No public price in the table for the region.
    Unknown { region: String },
    /// ECR Public: free up to [`PUBLIC_FREE_TIER_GB`], then USD per GB-month beyond it, and where that comes from.
    PublicFreeTier { usd: f64, source: String },
}

/// The price for a repository in `region`: `--price-per-gb` when given, else the table's.
pub fn storage_price(region: &str, price_per_gb: Option<f64>) -> StoragePrice {
    match price_per_gb {
        Some(usd) => StoragePrice::PerGbMonth { usd, source: "--price-per-gb".into() },
        None => match PRICES.iter().find(|(partition, _)| *partition == Partition::of_region(region)) {
            Some((_, usd)) => StoragePrice::PerGbMonth { usd: *usd, source: format!("{PRICE_SOURCE}, {region}") },
            None => StoragePrice::Unknown { region: region.to_string() },
        },
    }
}

/// The price for an ECR Public repository: its free tier, and beyond it `--price-per-gb` when given, else
/// [`PUBLIC_PRICE`]. ECR Public's one region (us-east-1) is no part of it: the price is the same wherever the job runs.
pub fn public_storage_price(price_per_gb: Option<f64>) -> StoragePrice {
    match price_per_gb {
        Some(usd) => StoragePrice::PublicFreeTier { usd, source: "--price-per-gb".into() },
        None => StoragePrice::PublicFreeTier { usd: PUBLIC_PRICE, source: format!("{PRICE_SOURCE}, ECR Public") },
    }
}

/// A size for people: bytes below a KiB, else KiB, MiB or GiB with two decimals.
pub fn human_size(bytes: u64) -> String {
    let units = [("GiB", GB), ("MiB", 1_048_576.0), ("KiB", 1024.0)];
    for (unit, size) in units {
        if bytes as f64 >= size {
            return format!("{:.2} {unit}", bytes as f64 / size);
        }
    }
    format!("{bytes} bytes")
}

/// A price as written: cents always shown ($0.10), finer fractions kept ($0.023).
fn dollars(usd: f64) -> String {
    let cents = usd * 100.0;
    if (cents - cents.round()).abs() < 1e-9 { format!("${usd:.2}") } else { format!("${usd}") }
}

/// The month's price in words: `$0.12 a month at $0.10 per GB-month (source)`.
fn price_words(footprint: &Footprint, price: &StoragePrice) -> String {
    let gb = footprint.bytes as f64 / GB;
    match price {
        StoragePrice::PerGbMonth { usd, source } => {
            format!("${:.2} a month at {} per GB-month ({source})", gb * usd, dollars(*usd))
        }
        StoragePrice::Unknown { region } => {
            format!("no public price for {region} in ecr-ship's table (--price-per-gb USD gives one)")
        }
        StoragePrice::PublicFreeTier { usd, source } => {
            let beyond = (gb - PUBLIC_FREE_TIER_GB).max(0.0);
            let used = if beyond > 0.0 { format!(", {beyond:.2} GB beyond it") } else { String::new() };
            format!(
                "{} of the {PUBLIC_FREE_TIER_GB} GB free tier{used} (the account's, shared by its public \
                 repositories): ${:.2} a month at {} per GB-month beyond the tier ({source})",
                human_size(footprint.bytes),
                beyond * usd,
                dollars(*usd)
            )
        }
    }
}

/// One log line: `'team/app' stores 1.50 GiB in 3 manifests (7 distinct layers and configs): $0.15 a month …`.
pub fn storage_line(repository: &str, footprint: &Footprint, price: &StoragePrice) -> String {
    format!(
        "'{repository}' stores {} in {} manifest{} ({} distinct layer{} and configs): {}",
        human_size(footprint.bytes),
        footprint.manifests,
        if footprint.manifests == 1 { "" } else { "s" },
        footprint.blobs,
        if footprint.blobs == 1 { "" } else { "s" },
        price_words(footprint, price)
    )
}

/// The job summary's Markdown section.
pub fn storage_summary(repository: &str, footprint: &Footprint, price: &StoragePrice) -> String {
    format!(
        "### ecr-ship: storage of {repository}\n\n| Stored (each layer once) | Manifests | Layers and configs | This month \
         |\n| --- | --- | --- | --- |\n| {} ({} bytes) | {} | {} | {} |\n\n",
        human_size(footprint.bytes),
        footprint.bytes,
        footprint.manifests,
        footprint.blobs,
        price_words(footprint, price)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHARED: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn image(config: &str, layers: &[(&str, u64)]) -> String {
        let layers: Vec<Value> = layers.iter().map(|(d, s)| serde_json::json!({"digest": d, "size": s})).collect();
        serde_json::json!({"schemaVersion": 2, "config": {"digest": config, "size": 100}, "layers": layers}).to_string()
    }

    #[test]
    fn shared_layers_count_once_and_index_children_are_followed() {
        let mut walk = Walk::default();
        assert!(walk.add("sha256:a", &image("sha256:ca", &[(SHARED, 1000), ("sha256:la", 10)])).is_empty());
        assert!(walk.add("sha256:b", &image("sha256:cb", &[(SHARED, 1000), ("sha256:lb", 20)])).is_empty());
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [
            {"digest": "sha256:a", "size": 1}, {"digest": "sha256:c", "size": 1}]})
        .to_string();
        assert_eq!(walk.add("sha256:i", &index), vec!["sha256:c".to_string()], "only the unread child");
        walk.add("sha256:c", &image("sha256:ca", &[(SHARED, 1000)]));
        assert_eq!(walk.footprint(), Footprint { manifests: 4, blobs: 5, bytes: 100 + 100 + 1000 + 10 + 20 });
        assert_eq!(Walk::default().footprint(), Footprint::default());
        let mut broken = Walk::default();
        assert!(broken.add("sha256:x", "not json").is_empty());
        assert_eq!(broken.footprint(), Footprint { manifests: 1, blobs: 0, bytes: 0 });
    }

    #[test]
    fn prices_by_region_and_override() {
        assert!(matches!(storage_price("eu-west-1", None), StoragePrice::PerGbMonth { usd, .. } if usd == 0.10));
        assert_eq!(storage_price("cn-north-1", None), StoragePrice::Unknown { region: "cn-north-1".into() });
        assert_eq!(
            storage_price("us-gov-west-1", Some(0.2)),
            StoragePrice::PerGbMonth { usd: 0.2, source: "--price-per-gb".into() }
        );
    }

    /// The walk both measurements share: batches of what is pending, children read in a later batch, each manifest
    /// once, and a manifest gone meanwhile counted as read; a reader's failure is the walk's.
    #[tokio::test]
    async fn the_shared_walk_reads_each_manifest_once_in_batches() {
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [
            {"digest": "sha256:a", "size": 1}, {"digest": "sha256:c", "size": 1}, {"digest": "sha256:gone", "size": 1}]})
        .to_string();
        let stored = BTreeMap::from([
            ("sha256:a", image("sha256:ca", &[(SHARED, 1000), ("sha256:la", 10)])),
            ("sha256:c", image("sha256:cc", &[(SHARED, 1000)])),
            ("sha256:i", index),
        ]);
        let batches = std::sync::Mutex::new(Vec::new());
        let read = |pending: Vec<String>| {
            batches.lock().unwrap().push(pending.clone());
            let answers = pending.into_iter().map(|d| (d.clone(), stored.get(d.as_str()).cloned())).collect();
            async move { anyhow::Ok(answers) }
        };
        let listed = vec!["sha256:i".to_string(), "sha256:a".to_string(), "sha256:i".to_string()];
        let footprint = walk_manifests(listed, read).await.unwrap();
        assert_eq!(footprint, Footprint { manifests: 4, blobs: 4, bytes: 100 + 100 + 1000 + 10 });
        let want = [["sha256:a", "sha256:i"], ["sha256:c", "sha256:gone"]];
        assert_eq!(*batches.lock().unwrap(), want.map(|b| b.map(String::from).to_vec()));
        let failing = |_: Vec<String>| async { anyhow::bail!("registry down") as anyhow::Result<Vec<_>> };
        let error = walk_manifests(vec!["sha256:a".into()], failing).await.unwrap_err();
        assert_eq!(error.to_string(), "registry down");
    }

    #[test]
    fn ecr_public_against_its_free_tier() {
        let gib = 1_073_741_824_u64;
        // (stored bytes, price override) -> the words after the size
        let cases = [
            (
                3 * gib / 2,
                None,
                "1.50 GiB of the 50 GB free tier (the account's, shared by its public repositories): $0.00 a month at \
                 $0.10 per GB-month beyond the tier (the public price of aws.amazon.com/ecr/pricing, 2026-03, ECR \
                 Public)",
            ),
            (
                50 * gib,
                None,
                "50.00 GiB of the 50 GB free tier (the account's, shared by its public repositories): $0.00 a month",
            ),
            (
                60 * gib,
                None,
                "60.00 GiB of the 50 GB free tier, 10.00 GB beyond it (the account's, shared by its public \
                 repositories): $1.00 a month at $0.10 per GB-month beyond the tier",
            ),
            (
                70 * gib,
                Some(0.5),
                "70.00 GiB of the 50 GB free tier, 20.00 GB beyond it (the account's, shared by its public \
                 repositories): $10.00 a month at $0.50 per GB-month beyond the tier (--price-per-gb)",
            ),
        ];
        for (bytes, price_per_gb, words) in cases {
            let footprint = Footprint { manifests: 2, blobs: 3, bytes };
            let line = storage_line("app", &footprint, &public_storage_price(price_per_gb));
            let (_, after) = line.split_once("configs): ").unwrap();
            assert!(after.starts_with(words), "{bytes}: {line}");
        }
        let table = storage_summary("app", &Footprint::default(), &public_storage_price(None));
        assert!(table.contains("| 0 bytes (0 bytes) | 0 | 0 | 0 bytes of the 50 GB free tier"), "{table}");
    }

    #[test]
    fn the_summary_in_words() {
        let footprint = Footprint { manifests: 3, blobs: 7, bytes: 3 * 1_073_741_824 / 2 };
        let price = storage_price("us-east-1", None);
        assert_eq!(
            storage_line("team/app", &footprint, &price),
            "'team/app' stores 1.50 GiB in 3 manifests (7 distinct layers and configs): $0.15 a month at $0.10 per \
             GB-month (the public price of aws.amazon.com/ecr/pricing, 2026-03, us-east-1)"
        );
        let table = storage_summary("team/app", &footprint, &price);
        assert!(table.starts_with("### ecr-ship: storage of team/app\n\n| Stored (each layer once) |"), "{table}");
        assert!(table.contains("| 1.50 GiB (1610612736 bytes) | 3 | 7 | $0.15 a month"), "{table}");
        let unknown = storage_line("x", &footprint, &StoragePrice::Unknown { region: "cn-north-1".into() });
        assert!(unknown.ends_with("no public price for cn-north-1 in ecr-ship's table (--price-per-gb USD gives one)"));
        for (bytes, shown) in [(0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.50 KiB"), (5 * 1_048_576, "5.00 MiB")] {
            assert_eq!(human_size(bytes), shown);
        }
        let one = Footprint { manifests: 1, blobs: 1, bytes: 10 };
        assert!(storage_line("x", &one, &price).starts_with("'x' stores 10 bytes in 1 manifest (1 distinct layer and"));
    }
}
