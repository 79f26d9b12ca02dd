//! What a repository stores and what that costs a month: the job summary's storage line after a push or a prune.
//!
//! ECR bills the bytes it stores, and images share layers, so the size is the sum of the distinct blobs (configs and
//! layers) that the repository's manifests name, each counted once: DescribeImages lists the manifests, BatchGetImage
//! reads them (100 at a time, an index's children followed), and their descriptors give the sizes. DescribeImages'
//! own `imageSizeInBytes` is per image and would count a shared base layer once per image. Both calls are in the
//! push policy already (`ecr:DescribeImages`, `ecr:BatchGetImage`), so measuring needs no wider role.
//!
//! The price is the region's public storage price per GB-month from [`PRICES`] (or `--price-per-gb`;
//! docs/ecr-behaviour.md §18). ECR Public is not measured: it has no BatchGetImage, so its manifests could only be
//! read through the registry. Formatting is pure ([`storage_summary`], [`storage_line`]).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecr::types::ImageIdentifier;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
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

/// The repository's stored size, each layer and config counted once (DescribeImages, then BatchGetImage on every
/// manifest, index children followed). Private ECR only: ECR Public has no BatchGetImage, and its call fails with a
/// sentence saying so. Needs `ecr:DescribeImages` and `ecr:BatchGetImage`, both in the push policy. Used by the
/// summaries of push and prune; a failure there is a warning, never the command's failure.
pub async fn repository_footprint(session: &Session, repository: &str) -> anyhow::Result<Footprint> {
    if session.is_public() {
        anyhow::bail!("the stored size of an ECR Public repository is not measured (it has no BatchGetImage)");
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
    let mut walk = Walk::default();
    let mut pending: Vec<String> = listed.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    while !pending.is_empty() {
        let mut found = Vec::new();
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
                        found.extend(walk.add(digest, text));
                    }
                }
                // A digest that failed (deleted meanwhile) is simply not stored any more: counted as read.
                for failure in output.failures() {
                    if let Some(digest) = failure.image_id().and_then(|id| id.image_digest()) {
                        walk.read.insert(digest.to_string());
                    }
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
/// A GB of 2^30 bytes, as AWS's storage billing counts it (docs/ecr-behaviour.md §18: unconfirmed for ECR).
const GB: f64 = 1_073_741_824.0;

/// What a GB-month costs for this repository.
#[derive(Debug, Clone, PartialEq)]
pub enum StoragePrice {
    /// USD per GB-month and where the number comes from.
    PerGbMonth { usd: f64, source: String },
    /// No public price in the table for the region.
    Unknown { region: String },
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
