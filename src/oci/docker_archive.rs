//! Reads a `docker save` archive into a push plan without extracting it: blobs are byte ranges of the tar file
//! (`tar_index`), or, for layers compressed on the way, private temporary files.
//!
//! Two shapes exist. The classic one (`manifest.json` with `Config: "<hex>.json"` and `Layers: ["<id>/layer.tar"]`)
//! has no manifest, so one is built. Docker 25 and later also embed an OCI layout (`index.json`,
//! `blobs/sha256/…`) whose manifest is pushed byte for byte when it matches the selected image, all its blobs are
//! in the archive and none of its layers is to be compressed.
//!
//! `docker save` writes uncompressed layers, which no registry client pushes as they are (ECR's handling of the
//! uncompressed Docker type is unconfirmed, Quay refuses it, and they cost storage, transfer and pull time), so by
//! default (`--compression gzip`) every uncompressed layer is compressed while planning, before the first network
//! call, and the manifest is built new: Docker v2 schema 2 with `…rootfs.diff.tar.gzip` layers, or with `zstd` an
//! OCI manifest and OCI config type with `…tar+zstd` layers (schema 2 has no zstd type). The config blob is kept
//! byte for byte: its diff_ids are the uncompressed digests, checked while compressing, and stay valid. Layers that
//! are already gzip or zstd are pushed byte for byte. Compression is deterministic (`compress.rs`), so re-pushes and
//! shared base layers upload nothing. Its cost, paid before the upload: one read of every uncompressed layer, CPU
//! (gzip about 125-145 MiB/s per core, zstd 150-190, layers in parallel, up to one per core), and temporary disk in
//! `TMPDIR` the size of the compressed layers, held until the push ends and then removed. `--compression none`
//! pushes the archive as it is: uncompressed layers with their digests equal to the diff_ids (no hashing pass, no
//! temporary disk, no CPU), the embedded OCI manifest when there is one, otherwise schema 2 (or OCI when a layer
//! is zstd).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::bail_input;
use crate::error::bad_input;

use crate::digest::{hex, sha256_digest, sha256_hex};
use crate::media_type::{
    DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER, OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD, OCI_MANIFEST, is_index,
};

use super::compress::{self, Compression, LayerInput, ScratchFiles, Stop};
use super::image_plan::{
    Blob, BlobKind, Descriptor, ImagePlan, ImagePlanBuilder, IndexJson, LayerCompression, MAX_MANIFEST_BYTES, Manifest,
    ManifestDoc,
};
use super::tar_index::{TarIndex, TarKind, normalize};

/// Image configs are a few kB; this only guards against a path that names a layer by mistake.
const MAX_CONFIG_BYTES: u64 = 64 * 1024 * 1024;

const KIND: TarKind =
    TarKind { noun: "docker archive", gunzip: "gunzip, or `docker save -o FILE` without piping through gzip" };

#[derive(Debug, Deserialize)]
struct ArchiveImage {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ConfigRootfs {
    #[serde(default)]
    rootfs: Option<Rootfs>,
}

#[derive(Debug, Deserialize)]
struct Rootfs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// Whether the OCI layout docker embeds in its archive (Docker 25+; from the containerd image store, an index per
/// image) names an image index of more than one manifest: other platforms, or buildx's attestations. A docker
/// archive's manifest.json describes one image, so [`plan`] pushes one manifest; `docker push` would push the index.
pub fn holds_image_index(file: &Path) -> anyhow::Result<bool> {
    let index = TarIndex::read(file, &KIND)?;
    let Some(bytes) = index.read_small("index.json", MAX_MANIFEST_BYTES)? else { return Ok(false) };
    let Ok(top) = serde_json::from_slice::<IndexJson>(&bytes) else { return Ok(false) };
    for descriptor in top.manifests.iter().filter(|d| is_index(&d.media_type)) {
        if let Some((_, doc)) = index.read_document(descriptor)?
            && doc.manifests.as_ref().is_some_and(|children| children.len() > 1)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Plans a push of the image in the docker archive `file`: the one matching `reference` among its RepoTags, or its
/// only image. Its uncompressed layers are compressed as `compression` says (`stop` gives up early).
pub fn plan(file: &Path, reference: Option<&str>, compression: Compression, stop: &Stop) -> anyhow::Result<ImagePlan> {
    let index = TarIndex::read(file, &KIND)?;
    let manifest_json = index
        .read_small("manifest.json", MAX_MANIFEST_BYTES)?
        .ok_or_else(|| bad_input(format!("'{}' is not a docker archive: it has no manifest.json", file.display())))?;
    let images: Vec<ArchiveImage> = serde_json::from_slice(&manifest_json)
        .map_err(|e| bad_input(format!("manifest.json in '{}' is not valid: {e}", file.display())))?;
    let image = select(&images, reference, file)?;

    let config_bytes = index
        .read_small(&image.config, MAX_CONFIG_BYTES)?
        .ok_or_else(|| bad_input(format!("'{}' lacks the image config '{}'", file.display(), image.config)))?;
    let config_digest = sha256_digest(&config_bytes);

    if index.entries.contains_key("index.json")
        && let Some(plan) = embedded_oci_plan(&index, &config_digest, compression)?
    {
        return Ok(plan);
    }
    build_plan(&index, image, &config_bytes, config_digest, compression, stop)
}

fn select<'a>(images: &'a [ArchiveImage], reference: Option<&str>, file: &Path) -> anyhow::Result<&'a ArchiveImage> {
    let tags: Vec<&str> = images.iter().flat_map(|i| i.repo_tags.iter().flatten()).map(String::as_str).collect();
    let listing = if tags.is_empty() { "no tags".to_string() } else { tags.join(", ") };
    match reference {
        Some(wanted) => {
            let with_latest = format!("{wanted}:latest");
            let matches = |tag: &String| {
                tag == wanted || tag == &with_latest || tag.strip_prefix("docker.io/library/") == Some(wanted)
            };
            images.iter().find(|i| i.repo_tags.iter().flatten().any(matches)).ok_or_else(|| {
                bad_input(format!(
                    "the docker archive '{}' has no image tagged '{wanted}'; it has: {listing}",
                    file.display()
                ))
            })
        }
        None => match images {
            [only] => Ok(only),
            [] => bail_input!("the docker archive '{}' holds no images", file.display()),
            _ => bail_input!(
                "the docker archive '{}' holds {} images; pick one with docker-archive:{}:TAG, where TAG is one of: \
                 {listing}",
                file.display(),
                images.len(),
                file.display()
            ),
        },
    }
}

/// Uses the manifest docker itself wrote into the archive's OCI layout, when there is one for this image's config,
/// every blob it names is in the archive, and (unless `compression` is none) no layer of it is uncompressed.
fn embedded_oci_plan(
    index: &TarIndex,
    config_digest: &str,
    compression: Compression,
) -> anyhow::Result<Option<ImagePlan>> {
    let Some(bytes) = index.read_small("index.json", MAX_MANIFEST_BYTES)? else { return Ok(None) };
    let Ok(top) = serde_json::from_slice::<IndexJson>(&bytes) else { return Ok(None) };
    // One level of nesting covers docker's own output (an index per image, or the manifest directly).
    let mut candidates: Vec<Descriptor> = Vec::new();
    for descriptor in top.manifests {
        if is_index(&descriptor.media_type) {
            if let Some((_, doc)) = index.read_document(&descriptor)? {
                candidates.extend(doc.manifests.into_iter().flatten());
            }
        } else {
            candidates.push(descriptor);
        }
    }
    for descriptor in candidates {
        let Some((bytes, doc)) = index.read_document(&descriptor)? else { continue };
        let Some(config) = doc.config.as_ref().filter(|c| c.digest == config_digest) else { continue };
        let media_type = doc.media_type(&descriptor.media_type);
        let mut builder = ImagePlanBuilder::default();
        let mut complete = true;
        for (descriptor, kind) in std::iter::once((config, BlobKind::Config))
            .chain(doc.layers.iter().flatten().map(|layer| (layer, BlobKind::Layer)))
        {
            match index.blob_entry(descriptor, kind)? {
                // An uncompressed layer to compress: the manifest is built new from manifest.json instead.
                Some(blob)
                    if kind == BlobKind::Layer
                        && compression != Compression::None
                        && sniff(&blob.path, blob.offset, blob.size)? == Compression::None =>
                {
                    return Ok(None);
                }
                Some(blob) => builder.add_blob(blob),
                None => complete = false,
            }
        }
        if complete {
            return Ok(Some(builder.finish(Manifest::new(media_type, bytes))));
        }
    }
    Ok(None)
}

/// One layer of the manifest being built: where its bytes come from, once known.
struct BuiltLayer {
    name: String,
    path: PathBuf,
    offset: u64,
    size: u64,
    /// As found in the archive.
    found: Compression,
    /// The config's diff_id for it (or its `blobs/sha256/` name), when known.
    diff_id: Option<String>,
}

/// Builds a manifest from manifest.json for archives without a usable embedded one, compressing the uncompressed
/// layers first unless `compression` is none.
fn build_plan(
    index: &TarIndex,
    image: &ArchiveImage,
    config_bytes: &[u8],
    config_digest: String,
    compression: Compression,
    stop: &Stop,
) -> anyhow::Result<ImagePlan> {
    let diff_ids = serde_json::from_slice::<ConfigRootfs>(config_bytes)
        .ok()
        .and_then(|c| c.rootfs)
        .map(|r| r.diff_ids)
        .unwrap_or_default();
    let (config_file, config_offset, config_size) = index.locate(&image.config)?;
    let mut builder = ImagePlanBuilder::default();
    builder.add_blob(Blob {
        digest: config_digest.clone(),
        size: config_size,
        kind: BlobKind::Config,
        path: config_file,
        offset: config_offset,
    });
    let mut found = Vec::new();
    for (position, name) in image.layers.iter().enumerate() {
        let (path, offset, size) = index.locate(name)?;
        let kind = sniff(&path, offset, size)?;
        // The config's diff_ids are digests of the uncompressed layers, in order, when there is one per layer.
        let diff_id = match kind {
            Compression::None if diff_ids.len() == image.layers.len() => Some(diff_ids[position].clone()),
            Compression::None => blob_name_digest(name),
            _ => None,
        };
        found.push(BuiltLayer { name: name.clone(), path, offset, size, found: kind, diff_id });
    }

    // Uncompressed layers to compress, each distinct one (docker links a repeated layer to one entry) once.
    let mut inputs: Vec<LayerInput> = Vec::new();
    let mut input_of: Vec<Option<usize>> = Vec::new();
    for layer in &found {
        let input = (compression != Compression::None && layer.found == Compression::None).then(|| {
            inputs.iter().position(|i| i.offset == layer.offset && i.size == layer.size).unwrap_or_else(|| {
                inputs.push(LayerInput {
                    name: layer.name.clone(),
                    path: layer.path.clone(),
                    offset: layer.offset,
                    size: layer.size,
                    diff_id: layer.diff_id.clone(),
                });
                inputs.len() - 1
            })
        });
        input_of.push(input);
    }
    let scratch = ScratchFiles::default();
    let compressed = if inputs.is_empty() {
        None
    } else {
        for input in &inputs {
            if let Some(diff_id) = &input.diff_id
                && sha256_hex(diff_id).is_none()
            {
                bail_input!("layer '{}' of '{}' has an invalid diff_id '{diff_id}'", input.name, index.file.display());
            }
        }
        Some(compress::compress_layers(&inputs, compression, &scratch, stop)?)
    };

    let mut layers = Vec::new();
    for (layer, input) in found.iter().zip(&input_of) {
        let (digest, size, kind, path, offset) = match (input, &compressed) {
            (Some(at), Some(done)) => {
                let output = &done.layers[*at];
                (output.digest.clone(), output.size, compression, output.path.clone(), 0)
            }
            _ => {
                let digest = match (blob_name_digest(&layer.name), &layer.diff_id) {
                    (Some(digest), _) => digest,
                    // Uncompressed layers are their own diff_ids; the digest is still verified while streaming.
                    (None, Some(diff_id)) => diff_id.clone(),
                    (None, None) => hash_range(&layer.path, layer.offset, layer.size).map_err(|e| {
                        anyhow::anyhow!("reading layer '{}' of '{}': {e}", layer.name, index.file.display())
                    })?,
                };
                (digest, layer.size, layer.found, layer.path.clone(), layer.offset)
            }
        };
        if sha256_hex(&digest).is_none() {
            bail_input!("layer '{}' of '{}' has an invalid digest '{digest}'", layer.name, index.file.display());
        }
        layers.push((digest.clone(), size, kind));
        builder.add_blob(Blob { digest, size, kind: BlobKind::Layer, path, offset });
    }

    // Docker's own media types unless a layer needs one only OCI has.
    let oci = layers.iter().any(|(_, _, c)| *c == Compression::Zstd);
    let layer_type = |c: Compression| match (oci, c) {
        (false, Compression::None) => DOCKER_LAYER,
        (false, _) => DOCKER_LAYER_GZIP,
        (true, Compression::None) => OCI_LAYER,
        (true, Compression::Gzip) => OCI_LAYER_GZIP,
        (true, Compression::Zstd) => OCI_LAYER_ZSTD,
    };
    #[derive(serde::Serialize)]
    struct Built<'a> {
        #[serde(rename = "schemaVersion")]
        schema_version: u32,
        #[serde(rename = "mediaType")]
        media_type: &'a str,
        config: Descriptor,
        layers: Vec<Descriptor>,
    }
    let descriptor = |media_type: &str, digest: String, size: u64| Descriptor {
        media_type: media_type.to_string(),
        digest,
        size,
        urls: Vec::new(),
        annotations: None,
        platform: None,
    };
    let media_type = if oci { OCI_MANIFEST } else { DOCKER_MANIFEST };
    let built = Built {
        schema_version: 2,
        media_type,
        config: descriptor(if oci { OCI_CONFIG } else { DOCKER_CONFIG }, config_digest, config_size),
        layers: layers.into_iter().map(|(digest, size, c)| descriptor(layer_type(c), digest, size)).collect(),
    };
    let bytes = serde_json::to_vec_pretty(&built)?;
    let plan = builder.finish(Manifest::new(media_type.to_string(), bytes));
    Ok(match compressed {
        None => plan,
        Some(done) => plan.with_compression(LayerCompression {
            format: compression.name(),
            layers: done.layers.len(),
            bytes_in: inputs.iter().map(|i| i.size).sum(),
            bytes_out: done.layers.iter().map(|l| l.size).sum(),
            threads: done.threads,
            elapsed: done.elapsed,
            files: Box::new(scratch),
        }),
    })
}

/// `blobs/sha256/<hex>` names carry their digest.
fn blob_name_digest(name: &str) -> Option<String> {
    let hex = normalize(name)?.strip_prefix("blobs/sha256/")?.to_string();
    let digest = format!("sha256:{hex}");
    sha256_hex(&digest).is_some().then_some(digest)
}

/// Whether the `size` bytes of `path` from `offset` are gzip, zstd or neither (an uncompressed tar).
fn sniff(path: &Path, offset: u64, size: u64) -> anyhow::Result<Compression> {
    let mut magic = [0u8; 4];
    let wanted = usize::try_from(size.min(4)).unwrap_or(4);
    let mut read = || -> std::io::Result<()> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut magic[..wanted])
    };
    read().map_err(|e| anyhow::anyhow!("reading the layer at byte {offset} of '{}': {e}", path.display()))?;
    Ok(match magic {
        [0x1f, 0x8b, _, _] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        _ => Compression::None,
    })
}

fn hash_range(path: &Path, offset: u64, size: u64) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = file.take(size);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(format!("sha256:{}", hex(&hasher.finalize())))
}

impl TarIndex {
    fn locate(&self, name: &str) -> anyhow::Result<(PathBuf, u64, u64)> {
        match self.resolve(name)? {
            Some((offset, size)) => Ok((self.file.clone(), offset, size)),
            None => bail_input!("the docker archive '{}' lacks '{name}' named in manifest.json", self.file.display()),
        }
    }

    /// A manifest or index stored as `blobs/sha256/<hex>`, checked against its digest; `None` when absent or bad.
    fn read_document(&self, descriptor: &Descriptor) -> anyhow::Result<Option<(Vec<u8>, ManifestDoc)>> {
        let Some(hex) = sha256_hex(&descriptor.digest) else { return Ok(None) };
        let Some(bytes) = self.read_small(&format!("blobs/sha256/{hex}"), MAX_MANIFEST_BYTES)? else {
            return Ok(None);
        };
        if sha256_digest(&bytes) != descriptor.digest {
            return Ok(None);
        }
        Ok(serde_json::from_slice(&bytes).ok().map(|doc| (bytes, doc)))
    }

    fn blob_entry(&self, descriptor: &Descriptor, kind: BlobKind) -> anyhow::Result<Option<Blob>> {
        let Some(hex) = sha256_hex(&descriptor.digest) else { return Ok(None) };
        Ok(self.resolve(&format!("blobs/sha256/{hex}"))?.filter(|(_, size)| *size == descriptor.size).map(
            |(offset, size)| Blob { digest: descriptor.digest.clone(), size, kind, path: self.file.clone(), offset },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_inside_the_archive() {
        assert_eq!(normalize("./blobs//sha256/ab").as_deref(), Some("blobs/sha256/ab"));
        assert_eq!(normalize("a/../b/layer.tar").as_deref(), Some("b/layer.tar"));
        assert_eq!(normalize("../etc/passwd"), None);
        let hex = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert_eq!(blob_name_digest(&format!("blobs/sha256/{hex}")), Some(format!("sha256:{hex}")));
        assert_eq!(blob_name_digest("abc/layer.tar"), None);
    }
}
