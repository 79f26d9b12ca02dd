//! Reads an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) into a push plan, wherever its files
//! are: a directory (`oci:DIR`, `Directory` here) or the tar of one (`oci-archive:FILE`, in `oci_archive`). The
//! reader asks a [`LayoutFiles`] only two things, "the small file at this path" and "where is this blob (file,
//! offset, length)", so the image selection and the walk over indexes exist once for both.
//!
//! The image is chosen in `index.json` by REF (its `org.opencontainers.image.ref.name` annotation, the full name in
//! `io.containerd.image.name` that buildx and docker write beside it, or its digest), or is the only one there. It
//! is pushed whole: an index with every child manifest (buildx attestation manifests, platform `unknown/unknown`,
//! included) and every blob, all digests unchanged.
//!
//! Only small documents (index.json, manifests, indexes) are read into memory, and each is checked against its
//! digest and size here, before the first network call; layer and config blobs are only checked for presence and
//! size and are hashed later, while they stream to the registry. Problems in the layout are the user's input, so
//! they are [`BadInput`](crate::error::BadInput) errors.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::bail_input;
use crate::error::bad_input;

use crate::digest::{sha256_digest, sha256_hex};
use crate::media_type::is_index;

use super::image_plan::{
    Blob, BlobKind, Descriptor, ImagePlan, ImagePlanBuilder, IndexJson, MAX_MANIFEST_BYTES, Manifest, ManifestDoc,
};

/// The annotation `skopeo copy … oci:DIR:REF`, buildah, podman and docker use to name an image inside a layout.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The full image name buildx and docker write beside [`REF_NAME`] (which then holds only the tag).
pub const IMAGE_NAME: &str = "io.containerd.image.name";

/// Registry prefixes a full name may carry that a user leaves out: `docker.io/library/app:1` is `app:1`, and so is
/// podman's `localhost/app:1`.
const IMPLIED_PREFIXES: [&str; 3] = ["docker.io/library/", "docker.io/", "localhost/"];

/// Nested indexes deeper than this are treated as a malformed (or cyclic) layout.
const MAX_DEPTH: usize = 4;

/// Where a layout's files are: the two questions the reader asks.
pub trait LayoutFiles {
    /// How messages name the source.
    fn source(&self) -> &SourceName;
    /// The whole file at `name` (a path inside the layout, such as `index.json`), or `None` when there is none; a
    /// file larger than `limit` is refused.
    fn read_small(&self, name: &str, limit: u64) -> anyhow::Result<Option<Vec<u8>>>;
    /// Where the file at `name` lies, or `None` when there is none.
    fn locate(&self, name: &str) -> anyhow::Result<Option<Extent>>;
}

/// `length` bytes of `file`, from `offset`.
pub struct Extent {
    pub file: PathBuf,
    pub offset: u64,
    pub length: u64,
}

/// A layout source as messages name it.
pub struct SourceName {
    /// `OCI image layout` or `OCI archive`.
    pub noun: &'static str,
    /// The `--from` prefix: `oci` or `oci-archive`.
    pub form: &'static str,
    pub path: PathBuf,
    /// How to make one, for the message that says this is none.
    pub make: &'static str,
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} '{}'", self.noun, self.path.display())
    }
}

/// Plans a push of the image in the layout directory `dir` named `reference` (or its only image).
pub fn plan(dir: &Path, reference: Option<&str>) -> anyhow::Result<ImagePlan> {
    plan_files(&Directory::new(dir), reference)
}

/// Plans a push of the image named `reference` (or the only image) of the layout `files` holds.
pub fn plan_files(files: &dyn LayoutFiles, reference: Option<&str>) -> anyhow::Result<ImagePlan> {
    let source = files.source();
    if files.locate("oci-layout")?.is_none() {
        bail_input!(
            "'{}' is not an {}: it has no 'oci-layout' file (make one with {})",
            source.path.display(),
            source.noun,
            source.make
        );
    }
    let Some(index_bytes) = files.read_small("index.json", MAX_MANIFEST_BYTES)? else {
        bail_input!("{source} has no index.json");
    };
    let index: IndexJson = serde_json::from_slice(&index_bytes)
        .map_err(|e| bad_input(format!("index.json in {source} is not a valid OCI index: {e}")))?;
    let descriptor = select(&index.manifests, reference, source)?;
    let mut builder = ImagePlanBuilder::default();
    let top = add_manifest(files, descriptor, &mut builder, 0)?;
    Ok(builder.finish(top))
}

/// Picks the image REF names (see [`names`]) or, with no REF, the only one. Entries with one digest are one image
/// (skopeo lists an image once per tag).
fn select<'a>(
    manifests: &'a [Descriptor],
    reference: Option<&str>,
    source: &SourceName,
) -> anyhow::Result<&'a Descriptor> {
    let listing = || {
        let mut seen = BTreeSet::new();
        let all: Vec<&str> = manifests
            .iter()
            .flat_map(|d| {
                let named: Vec<&str> = names(d).collect();
                if named.is_empty() { vec![d.digest.as_str()] } else { named }
            })
            .filter(|name| seen.insert(*name))
            .collect();
        if all.is_empty() { "nothing".to_string() } else { all.join(", ") }
    };
    let candidates: Vec<&Descriptor> = match reference {
        Some(wanted) => {
            manifests.iter().filter(|d| d.digest == wanted || names(d).any(|n| same_name(n, wanted))).collect()
        }
        None => manifests.iter().collect(),
    };
    let digests: BTreeSet<&str> = candidates.iter().map(|d| d.digest.as_str()).collect();
    match (candidates.first(), digests.len(), reference) {
        (Some(found), 1, _) => Ok(found),
        (None, _, Some(wanted)) => bail_input!(
            "{source} has no image named '{wanted}' (annotation {REF_NAME} or {IMAGE_NAME}, or a digest); it has: {}",
            listing()
        ),
        (None, _, None) => bail_input!("{source} lists no images in index.json"),
        (_, count, Some(wanted)) => bail_input!(
            "{source} has {count} different images named '{wanted}' ({}); pick one by its full name or digest",
            digests.into_iter().collect::<Vec<_>>().join(", ")
        ),
        (_, count, None) => bail_input!(
            "{source} holds {count} images; pick one with {}:{}:REF, where REF is one of: {}",
            source.form,
            source.path.display(),
            listing()
        ),
    }
}

/// The names an index.json entry carries: its ref name (often just the tag) and its full image name.
fn names(descriptor: &Descriptor) -> impl Iterator<Item = &str> {
    let annotations = descriptor.annotations.as_ref();
    [REF_NAME, IMAGE_NAME].into_iter().filter_map(move |key| annotations?.get(key).map(String::as_str))
}

fn same_name(name: &str, wanted: &str) -> bool {
    name == wanted || IMPLIED_PREFIXES.iter().any(|prefix| name.strip_prefix(prefix) == Some(wanted))
}

/// `blobs/sha256/<hex>`, the one place a layout keeps a blob.
fn blob_name(descriptor: &Descriptor, source: &SourceName) -> anyhow::Result<String> {
    let Some(hex) = sha256_hex(&descriptor.digest) else {
        bail_input!(
            "{source} refers to '{}', which is not a sha256 digest (sha256:<64 lower-case hex>)",
            descriptor.digest
        );
    };
    Ok(format!("blobs/sha256/{hex}"))
}

/// Adds a manifest (and, for an index, every child with its blobs) to the plan; returns the manifest itself.
fn add_manifest(
    files: &dyn LayoutFiles,
    descriptor: &Descriptor,
    builder: &mut ImagePlanBuilder,
    depth: usize,
) -> anyhow::Result<Manifest> {
    let source = files.source();
    if depth > MAX_DEPTH {
        bail_input!("{source} nests indexes more than {MAX_DEPTH} deep");
    }
    let name = blob_name(descriptor, source)?;
    if descriptor.size > MAX_MANIFEST_BYTES {
        bail_input!(
            "manifest {} in {source} is {} bytes; registries accept at most {MAX_MANIFEST_BYTES}",
            descriptor.digest,
            descriptor.size
        );
    }
    let Some(bytes) = files.read_small(&name, MAX_MANIFEST_BYTES)? else {
        bail_input!("manifest {} is missing from {source} (no {name})", descriptor.digest);
    };
    let actual = sha256_digest(&bytes);
    if actual != descriptor.digest || bytes.len() as u64 != descriptor.size {
        bail_input!(
            "manifest {name} in {source} does not match its descriptor (expected {} and {} bytes, found {actual} \
             and {} bytes); the layout is corrupt",
            descriptor.digest,
            descriptor.size,
            bytes.len()
        );
    }
    let doc: ManifestDoc = serde_json::from_slice(&bytes)
        .map_err(|e| bad_input(format!("manifest {} in {source} is not valid JSON: {e}", descriptor.digest)))?;
    let media_type = doc.media_type(&descriptor.media_type);
    let manifest = Manifest { digest: actual, media_type: media_type.clone(), bytes };
    if is_index(&media_type) {
        for child in doc.manifests.iter().flatten() {
            let child_manifest = add_manifest(files, child, builder, depth + 1)?;
            builder.add_child(child_manifest);
        }
    } else {
        let Some(config) = &doc.config else {
            bail_input!("manifest {} in {source} has no config descriptor", descriptor.digest);
        };
        add_blob(files, config, BlobKind::Config, builder)?;
        for layer in doc.layers.iter().flatten() {
            add_blob(files, layer, BlobKind::Layer, builder)?;
        }
    }
    Ok(manifest)
}

fn add_blob(
    files: &dyn LayoutFiles,
    descriptor: &Descriptor,
    kind: BlobKind,
    builder: &mut ImagePlanBuilder,
) -> anyhow::Result<()> {
    let source = files.source();
    let name = blob_name(descriptor, source)?;
    let extent = match files.locate(&name)? {
        Some(extent) => extent,
        // Foreign (non-distributable) layers live at their URLs and are never pushed.
        None if !descriptor.urls.is_empty() => return Ok(()),
        None => bail_input!("{} {} is missing from {source} (no {name})", kind.label(), descriptor.digest),
    };
    if extent.length != descriptor.size {
        bail_input!(
            "{} {name} in {source} is {} bytes but its descriptor says {}; the layout is corrupt",
            kind.label(),
            extent.length,
            descriptor.size
        );
    }
    builder.add_blob(Blob {
        digest: descriptor.digest.clone(),
        size: descriptor.size,
        kind,
        path: extent.file,
        offset: extent.offset,
    });
    Ok(())
}

/// A layout unpacked in a directory (`oci:DIR`): every file is its own, and blobs start at offset 0.
struct Directory {
    name: SourceName,
}

impl Directory {
    fn new(dir: &Path) -> Directory {
        Directory {
            name: SourceName {
                noun: "OCI image layout",
                form: "oci",
                path: dir.to_path_buf(),
                make: "`skopeo copy … oci:DIR:TAG` or `docker buildx build --output type=oci,tar=false,dest=DIR`",
            },
        }
    }
}

impl LayoutFiles for Directory {
    fn source(&self) -> &SourceName {
        &self.name
    }

    fn read_small(&self, name: &str, limit: u64) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.name.path.join(name);
        match read_limited(&path, limit) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => bail_input!("cannot read '{}': {e}", path.display()),
        }
    }

    fn locate(&self, name: &str) -> anyhow::Result<Option<Extent>> {
        let path = self.name.path.join(name);
        match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_file() => Ok(Some(Extent { file: path, offset: 0, length: metadata.len() })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => bail_input!("cannot read '{}': {e}", path.display()),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EXIT_BAD_INPUT, exit_code};
    use serde_json::json;

    fn entry(digest: &str, annotations: serde_json::Value) -> Descriptor {
        serde_json::from_value(json!({
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": 1,
            "annotations": annotations,
        }))
        .unwrap()
    }

    fn name() -> SourceName {
        SourceName { noun: "OCI archive", form: "oci-archive", path: "app.tar".into(), make: "" }
    }

    fn pick<'a>(manifests: &'a [Descriptor], reference: Option<&str>) -> anyhow::Result<&'a str> {
        select(manifests, reference, &name()).map(|d| d.digest.as_str())
    }

    #[test]
    fn refs_select_by_ref_name_full_name_or_digest() {
        let manifests = [
            // What buildx writes: the tag as ref name, the full name beside it.
            entry("sha256:aa", json!({REF_NAME: "v1", IMAGE_NAME: "docker.io/team/app:v1"})),
            // What skopeo and podman write: the whole reference as ref name.
            entry("sha256:bb", json!({REF_NAME: "localhost/tools:2"})),
            entry("sha256:cc", json!({})),
        ];
        for (wanted, digest) in [
            ("v1", "sha256:aa"),
            ("docker.io/team/app:v1", "sha256:aa"),
            ("team/app:v1", "sha256:aa"),
            ("localhost/tools:2", "sha256:bb"),
            ("tools:2", "sha256:bb"),
            ("sha256:cc", "sha256:cc"),
        ] {
            assert_eq!(pick(&manifests, Some(wanted)).unwrap(), digest, "{wanted}");
        }
        let error = pick(&manifests, Some("v2")).unwrap_err();
        assert_eq!(exit_code(&error), EXIT_BAD_INPUT);
        let text = error.to_string();
        assert!(text.contains("no image named 'v2'"), "{text}");
        assert!(text.contains("v1, docker.io/team/app:v1, localhost/tools:2, sha256:cc"), "{text}");
        let error = pick(&manifests, None).unwrap_err().to_string();
        assert!(error.contains("holds 3 images; pick one with oci-archive:app.tar:REF"), "{error}");
    }

    #[test]
    fn one_image_needs_no_ref_even_when_listed_twice() {
        let single = [entry("sha256:aa", json!({REF_NAME: "v1", IMAGE_NAME: "example.com/app:v1"}))];
        assert_eq!(pick(&single, None).unwrap(), "sha256:aa");
        let twice = [entry("sha256:aa", json!({REF_NAME: "v1"})), entry("sha256:aa", json!({REF_NAME: "latest"}))];
        assert_eq!(pick(&twice, None).unwrap(), "sha256:aa");
        assert_eq!(pick(&twice, Some("sha256:aa")).unwrap(), "sha256:aa");
        assert!(pick(&[], None).unwrap_err().to_string().contains("lists no images"));
    }

    #[test]
    fn a_ref_naming_two_images_is_refused_with_their_digests() {
        let manifests = [
            entry("sha256:aa", json!({REF_NAME: "docker.io/library/app:1"})),
            entry("sha256:bb", json!({REF_NAME: "localhost/app:1"})),
        ];
        let error = pick(&manifests, Some("app:1")).unwrap_err();
        assert_eq!(exit_code(&error), EXIT_BAD_INPUT);
        let text = error.to_string();
        assert!(text.contains("2 different images named 'app:1' (sha256:aa, sha256:bb)"), "{text}");
        assert_eq!(pick(&manifests, Some("localhost/app:1")).unwrap(), "sha256:bb");
    }
}
