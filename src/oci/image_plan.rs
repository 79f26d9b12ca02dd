//! The push plan: what a source (OCI layout, OCI archive or docker archive) resolves to before anything is contacted, plus the
//! descriptor, media-type and digest vocabulary the readers and the uploader share.
//!
//! A plan lists every blob once (deduplicated by digest across all manifests of a multi-arch image), the child
//! manifests to put by digest, and the top-level manifest. Blobs are never loaded: each one is a byte range of a
//! file on disk (a layout's `blobs/sha256/<hex>`, an entry inside an OCI archive or docker-save tar, or a compressed
//! layer in a private temporary file that the plan owns and removes when it is dropped), so memory stays flat no
//! matter how large the layers are.

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::digest::sha256_digest;
use crate::media_type::{OCI_INDEX, OCI_MANIFEST};

/// ECR rejects manifests over 4 MiB; anything larger in a layout is corrupt or not a manifest.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// An OCI/Docker content descriptor, as found in index.json, indexes and manifests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

/// The `index.json` at the root of an OCI layout (also inside a docker 25+ archive): the images it names.
#[derive(Debug, Deserialize)]
pub struct IndexJson {
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// The fields of an image manifest or index this pusher needs; the bytes themselves are always pushed unchanged.
#[derive(Debug, Deserialize)]
pub struct ManifestDoc {
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
}

impl ManifestDoc {
    /// The media type to send as Content-Type: the descriptor's if it has one, else the document's own field, else
    /// what the shape says (an index has `manifests`).
    pub fn media_type(&self, descriptor_type: &str) -> String {
        if !descriptor_type.is_empty() {
            return descriptor_type.to_string();
        }
        match &self.media_type {
            Some(own) if !own.is_empty() => own.clone(),
            _ if self.manifests.is_some() => OCI_INDEX.to_string(),
            _ => OCI_MANIFEST.to_string(),
        }
    }
}

/// What a blob is, for messages and progress lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    Config,
    Layer,
}

impl BlobKind {
    pub fn label(self) -> &'static str {
        match self {
            BlobKind::Config => "config",
            BlobKind::Layer => "layer",
        }
    }
}

/// One blob to make present in the repository: `size` bytes of `path` starting at `offset`.
#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
    pub kind: BlobKind,
    pub path: PathBuf,
    pub offset: u64,
}

/// A manifest or index to put, with its exact bytes.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl Manifest {
    pub fn new(media_type: String, bytes: Vec<u8>) -> Manifest {
        Manifest { digest: sha256_digest(&bytes), media_type, bytes }
    }
}

/// Everything one push does, in order: blobs (any order, in parallel), then `children` by digest in list order,
/// then `top` once per tag.
#[derive(Debug, Clone)]
pub struct ImagePlan {
    pub blobs: Vec<Blob>,
    pub children: Vec<Manifest>,
    pub top: Manifest,
    /// Set when planning compressed layers; shared by every clone of the plan, so their files outlive none of them.
    pub compressed: Option<Arc<LayerCompression>>,
}

impl ImagePlan {
    /// The plan, owning what compressing its layers made.
    pub fn with_compression(self, compression: LayerCompression) -> ImagePlan {
        ImagePlan { compressed: Some(Arc::new(compression)), ..self }
    }
}

/// What planning did to a docker archive's uncompressed layers, and the owner of the temporary files the compressed
/// layers are uploaded from: dropping it (with the last clone of the plan) removes them.
pub struct LayerCompression {
    /// `gzip` or `zstd`.
    pub format: &'static str,
    pub layers: usize,
    /// Uncompressed bytes read, compressed bytes written.
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub threads: usize,
    pub elapsed: Duration,
    pub files: Box<dyn Any + Send + Sync>,
}

impl fmt::Debug for LayerCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerCompression")
            .field("format", &self.format)
            .field("layers", &self.layers)
            .field("bytes_in", &self.bytes_in)
            .field("bytes_out", &self.bytes_out)
            .finish_non_exhaustive()
    }
}

/// A source read and resolved: every blob (as a byte range of a local file), the child manifests and the
/// top-level manifest. Blobs are re-hashed as they stream, so a file changed since planning fails the push
/// rather than publishing other bytes.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    plan: ImagePlan,
    summary: ResolvedImage,
}

impl SourcePlan {
    pub(super) fn new(plan: ImagePlan, summary: ResolvedImage) -> SourcePlan {
        SourcePlan { plan, summary }
    }

    pub(super) fn plan(&self) -> &ImagePlan {
        &self.plan
    }

    /// What planning compressed (a docker archive's uncompressed layers), when it did.
    pub fn compressed(&self) -> Option<&LayerCompression> {
        self.plan.compressed.as_deref()
    }

    /// The same plan with `annotations` written into the top-level OCI manifest or index (a key already there is
    /// replaced). The top's digest changes; blobs and child manifests do not. ECR's schema is kept: nothing goes on
    /// the config descriptor, and a Docker schema 2 top (which has no annotations) is refused as bad input.
    pub fn annotated(&self, annotations: &BTreeMap<String, String>) -> anyhow::Result<SourcePlan> {
        let top = &self.plan.top;
        if top.media_type != OCI_MANIFEST && top.media_type != OCI_INDEX {
            crate::bail_input!(
                "--annotate needs an OCI manifest or index, and this image is {}: Docker schema 2 has no annotations \
                 (build it as OCI, e.g. docker buildx build --output type=oci, or push without --annotate)",
                top.media_type
            );
        }
        let mut document: serde_json::Value = serde_json::from_slice(&top.bytes)
            .map_err(|error| anyhow::anyhow!("the image's top-level manifest is not JSON: {error}"))?;
        let Some(object) = document.as_object_mut() else {
            anyhow::bail!("the image's top-level manifest is not a JSON object")
        };
        let existing = object.entry("annotations").or_insert_with(|| serde_json::json!({}));
        let Some(existing) = existing.as_object_mut() else {
            anyhow::bail!("the image's top-level manifest has annotations that are not an object")
        };
        for (key, value) in annotations {
            existing.insert(key.clone(), serde_json::Value::String(value.clone()));
        }
        let bytes = serde_json::to_vec(&document)?;
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            crate::bail_input!("--annotate would make the manifest larger than ECR's 4 MiB limit");
        }
        let top = Manifest::new(top.media_type.clone(), bytes);
        let summary = ResolvedImage { digest: top.digest.clone(), manifest: top.bytes.clone(), ..self.summary.clone() };
        Ok(SourcePlan { plan: ImagePlan { top, ..self.plan.clone() }, summary })
    }

    /// The digests of every blob the push makes present (configs and layers, without duplicates).
    pub fn blob_digests(&self) -> Vec<String> {
        self.plan.blobs.iter().map(|blob| blob.digest.clone()).collect()
    }

    /// What this plan pushes: the top-level manifest, its digest and the blob totals.
    pub fn summary(&self) -> &ResolvedImage {
        &self.summary
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

/// Collects a plan's blobs and child manifests without duplicates (multi-arch images share layers).
#[derive(Default)]
pub struct ImagePlanBuilder {
    blobs: Vec<Blob>,
    children: Vec<Manifest>,
    seen_blobs: HashSet<String>,
    seen_manifests: HashSet<String>,
}

impl ImagePlanBuilder {
    pub fn add_blob(&mut self, blob: Blob) {
        if self.seen_blobs.insert(blob.digest.clone()) {
            self.blobs.push(blob);
        }
    }

    pub fn add_child(&mut self, manifest: Manifest) {
        if self.seen_manifests.insert(manifest.digest.clone()) {
            self.children.push(manifest);
        }
    }

    pub fn finish(self, top: Manifest) -> ImagePlan {
        let mut blobs = self.blobs;
        // Tiny blobs (configs) first, since they finish at once and would otherwise wait for a slot behind the
        // layers and delay the manifest; then largest first, so the long uploads start at once.
        const TINY: u64 = 64 * 1024;
        blobs.sort_by_key(|blob| (blob.size > TINY, std::cmp::Reverse(blob.size)));
        let children = self.children.into_iter().filter(|child| child.digest != top.digest).collect();
        ImagePlan { blobs, children, top, compressed: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media_type::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST};

    #[test]
    fn media_type_falls_back_from_descriptor_to_document_to_shape() {
        let doc: ManifestDoc = serde_json::from_str(r#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
        assert_eq!(doc.media_type(""), OCI_INDEX);
        assert_eq!(doc.media_type(DOCKER_MANIFEST_LIST), DOCKER_MANIFEST_LIST);
        let doc: ManifestDoc = serde_json::from_str(&format!(r#"{{"mediaType":"{DOCKER_MANIFEST}"}}"#)).unwrap();
        assert_eq!(doc.media_type(""), DOCKER_MANIFEST);
    }

    #[test]
    fn builder_deduplicates_and_orders_largest_first() {
        let blob = |digest: &str, size| Blob {
            digest: digest.into(),
            size,
            kind: BlobKind::Layer,
            path: PathBuf::from("x"),
            offset: 0,
        };
        let mut builder = ImagePlanBuilder::default();
        builder.add_blob(blob("a", 1));
        builder.add_blob(blob("b", 5));
        builder.add_blob(blob("a", 1));
        let plan = builder.finish(Manifest::new(OCI_MANIFEST.into(), b"{}".to_vec()));
        let digests: Vec<_> = plan.blobs.iter().map(|b| b.digest.as_str()).collect();
        assert_eq!(digests, ["b", "a"]);
    }
}
