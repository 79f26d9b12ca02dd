//! Reads an OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`) into a push plan.
//!
//! Only small documents (index.json, manifests, indexes) are read into memory, and each is checked against its
//! digest here, before the first network call; layer and config blobs are only checked for presence and size and
//! are hashed later, while they stream to the registry. Problems in the layout are the user's input, so they are
//! [`BadInput`](crate::error::BadInput) errors.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::bail_input;
use crate::error::bad_input;

use crate::digest::{sha256_digest, sha256_hex};
use crate::media_type::is_index;

use super::plan::{
    Blob, BlobKind, Descriptor, IndexJson, MAX_MANIFEST_BYTES, Manifest, ManifestDoc, Plan, PlanBuilder,
};

/// The annotation `skopeo copy … oci:DIR:REF`, buildah and docker use to name an image inside a layout.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Nested indexes deeper than this are treated as a malformed (or cyclic) layout.
const MAX_DEPTH: usize = 4;

/// Plans a push of the image in `dir` named `reference` (or its only image).
pub fn plan(dir: &Path, reference: Option<&str>) -> anyhow::Result<Plan> {
    if !dir.join("oci-layout").is_file() {
        bail_input!(
            "'{}' is not an OCI image layout: it has no 'oci-layout' file (make one with `skopeo copy … oci:DIR:TAG` \
             or `docker buildx build --output type=oci,tar=false,dest=DIR`)",
            dir.display()
        );
    }
    let index_path = dir.join("index.json");
    let index_bytes = read_limited(&index_path, MAX_MANIFEST_BYTES)
        .map_err(|e| bad_input(format!("cannot read '{}': {e}", index_path.display())))?;
    let index: IndexJson = serde_json::from_slice(&index_bytes)
        .map_err(|e| bad_input(format!("'{}' is not a valid OCI index: {e}", index_path.display())))?;
    let descriptor = select(&index.manifests, reference, dir)?;
    let store = LayoutStore { dir };
    let mut builder = PlanBuilder::default();
    let top = add_manifest(&store, descriptor, &mut builder, 0)?;
    Ok(builder.finish(top))
}

/// Picks the image by its ref-name annotation, or the only one when no reference is given.
fn select<'a>(manifests: &'a [Descriptor], reference: Option<&str>, dir: &Path) -> anyhow::Result<&'a Descriptor> {
    let refs: Vec<&str> = manifests.iter().filter_map(ref_name).collect();
    let listing = if refs.is_empty() { "none".to_string() } else { refs.join(", ") };
    match reference {
        Some(wanted) => {
            let mut matching = manifests.iter().filter(|d| ref_name(d) == Some(wanted) || d.digest == wanted);
            match (matching.next(), matching.next()) {
                (Some(found), None) => Ok(found),
                (Some(_), Some(_)) => bail_input!(
                    "the OCI layout '{}' names several images '{wanted}'; remove the duplicates from index.json",
                    dir.display()
                ),
                (None, _) => bail_input!(
                    "the OCI layout '{}' has no image named '{wanted}' (annotation {REF_NAME}); it has: {listing}",
                    dir.display()
                ),
            }
        }
        None => match manifests {
            [only] => Ok(only),
            [] => bail_input!("the OCI layout '{}' lists no images in index.json", dir.display()),
            _ => bail_input!(
                "the OCI layout '{}' holds {} images; pick one with oci:{}:REF, where REF is one of: {listing}",
                dir.display(),
                manifests.len(),
                dir.display()
            ),
        },
    }
}

fn ref_name(descriptor: &Descriptor) -> Option<&str> {
    descriptor.annotations.as_ref()?.get(REF_NAME).map(String::as_str)
}

struct LayoutStore<'a> {
    dir: &'a Path,
}

impl LayoutStore<'_> {
    fn path(&self, descriptor: &Descriptor) -> anyhow::Result<PathBuf> {
        let Some(hex) = sha256_hex(&descriptor.digest) else {
            bail_input!(
                "the OCI layout '{}' refers to '{}', which is not a sha256 digest (sha256:<64 lower-case hex>)",
                self.dir.display(),
                descriptor.digest
            );
        };
        Ok(self.dir.join("blobs").join("sha256").join(hex))
    }
}

/// Adds a manifest (and, for an index, every child with its blobs) to the plan; returns the manifest itself.
fn add_manifest(
    store: &LayoutStore,
    descriptor: &Descriptor,
    builder: &mut PlanBuilder,
    depth: usize,
) -> anyhow::Result<Manifest> {
    if depth > MAX_DEPTH {
        bail_input!("the OCI layout '{}' nests indexes more than {MAX_DEPTH} deep", store.dir.display());
    }
    let path = store.path(descriptor)?;
    if descriptor.size > MAX_MANIFEST_BYTES {
        bail_input!(
            "manifest {} in '{}' is {} bytes; registries accept at most {MAX_MANIFEST_BYTES}",
            descriptor.digest,
            store.dir.display(),
            descriptor.size
        );
    }
    let bytes = read_limited(&path, MAX_MANIFEST_BYTES)
        .map_err(|e| bad_input(format!("manifest {} is missing from the OCI layout: {e}", descriptor.digest)))?;
    let actual = sha256_digest(&bytes);
    if actual != descriptor.digest || bytes.len() as u64 != descriptor.size {
        bail_input!(
            "manifest file '{}' does not match its descriptor (expected {} and {} bytes, found {actual} and {} \
             bytes); the layout is corrupt",
            path.display(),
            descriptor.digest,
            descriptor.size,
            bytes.len()
        );
    }
    let doc: ManifestDoc = serde_json::from_slice(&bytes)
        .map_err(|e| bad_input(format!("manifest {} in the OCI layout is not valid JSON: {e}", descriptor.digest)))?;
    let media_type = doc.media_type(&descriptor.media_type);
    let manifest = Manifest { digest: actual, media_type: media_type.clone(), bytes };
    if is_index(&media_type) {
        for child in doc.manifests.iter().flatten() {
            let child_manifest = add_manifest(store, child, builder, depth + 1)?;
            builder.add_child(child_manifest);
        }
    } else {
        let Some(config) = &doc.config else {
            bail_input!("manifest {} in the OCI layout has no config descriptor", descriptor.digest);
        };
        add_blob(store, config, BlobKind::Config, builder)?;
        for layer in doc.layers.iter().flatten() {
            add_blob(store, layer, BlobKind::Layer, builder)?;
        }
    }
    Ok(manifest)
}

fn add_blob(
    store: &LayoutStore,
    descriptor: &Descriptor,
    kind: BlobKind,
    builder: &mut PlanBuilder,
) -> anyhow::Result<()> {
    let path = store.path(descriptor)?;
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        // Foreign (non-distributable) layers live at their URLs and are never pushed.
        Err(_) if !descriptor.urls.is_empty() => return Ok(()),
        Err(e) => bail_input!(
            "{} {} is missing from the OCI layout '{}' ({}: {e})",
            kind.label(),
            descriptor.digest,
            store.dir.display(),
            path.display()
        ),
    };
    if metadata.len() != descriptor.size {
        bail_input!(
            "{} file '{}' is {} bytes but its descriptor says {}; the layout is corrupt",
            kind.label(),
            path.display(),
            metadata.len(),
            descriptor.size
        );
    }
    builder.add_blob(Blob { digest: descriptor.digest.clone(), size: descriptor.size, kind, path, offset: 0 });
    Ok(())
}

/// Reads a whole small file, refusing anything larger than `limit` so a wrong path can't exhaust memory.
pub fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}
