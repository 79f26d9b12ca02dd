//! Images made in the tests: random tar and gzip layers, OCI image layouts with manifests, indexes and buildx-shaped
//! attestations, OCI archives (the tar of a layout) and tar archives shaped like `docker save` output. Digests are
//! computed here, independently of the product.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ecr_ship::oci::ImageSource;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub use ecr_ship::media_type::{DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// Random bytes from a seeded xorshift (fast in debug builds, and incompressible enough for gzip to keep size).
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = getrandom::u64().unwrap_or(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A layer tar holding the given files.
pub fn layer_tar(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, data.as_slice()).expect("append to layer tar");
    }
    builder.into_inner().expect("finish layer tar")
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip finish")
}

/// A layer as it goes into a manifest: the blob bytes, their media type and the uncompressed diff_id.
#[derive(Clone)]
pub struct Layer {
    pub blob: Vec<u8>,
    pub media_type: &'static str,
    pub diff_id: String,
}

pub fn random_layer(name: &str, size: usize, compressed: bool) -> Layer {
    let tar = layer_tar(&[(name, random_bytes(size))]);
    let diff_id = digest_of(&tar);
    if compressed {
        Layer { blob: gzip(&tar), media_type: "application/vnd.oci.image.layer.v1.tar+gzip", diff_id }
    } else {
        Layer { blob: tar, media_type: "application/vnd.oci.image.layer.v1.tar", diff_id }
    }
}

/// An OCI image layout being written by a test.
pub struct Layout {
    pub dir: PathBuf,
    pub index: Vec<Value>,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("mkdir blobs");
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("write oci-layout");
        Layout { dir: dir.to_path_buf(), index: Vec::new() }
    }

    pub fn blob(&self, bytes: &[u8]) -> (String, u64) {
        let digest = digest_of(bytes);
        std::fs::write(self.blob_path(&digest), bytes).expect("write blob");
        (digest, bytes.len() as u64)
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
    }

    /// Writes config, layers and manifest; returns the manifest descriptor.
    /// `architecture` may carry a variant: `arm/v7`.
    pub fn image(&self, layers: &[Layer], architecture: &str) -> Value {
        let (architecture, variant) = architecture.split_once('/').unwrap_or((architecture, ""));
        let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
        let mut config = json!({"architecture": architecture, "os": "linux", "config": {},
                            "rootfs": {"type": "layers", "diff_ids": diff_ids}});
        let mut platform = json!({"architecture": architecture, "os": "linux"});
        if !variant.is_empty() {
            config["variant"] = json!(variant);
            platform["variant"] = json!(variant);
        }
        let (config_digest, config_size) = self.blob(&serde_json::to_vec(&config).expect("config json"));
        let layer_descriptors: Vec<Value> = layers
            .iter()
            .map(|layer| {
                let (digest, size) = self.blob(&layer.blob);
                json!({"mediaType": layer.media_type, "digest": digest, "size": size})
            })
            .collect();
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
            "layers": layer_descriptors});
        let (digest, size) = self.blob(&serde_json::to_vec(&manifest).expect("manifest json"));
        json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": platform})
    }

    /// Writes an image index over manifest descriptors; returns the index descriptor.
    pub fn index(&self, manifests: &[Value]) -> Value {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        let (digest, size) = self.blob(&serde_json::to_vec(&index).expect("index json"));
        json!({"mediaType": OCI_INDEX, "digest": digest, "size": size})
    }

    /// A buildx-shaped attestation manifest for the image `subject` (a manifest descriptor): one in-toto statement
    /// as its layer, platform `unknown/unknown`, and the annotations naming its subject. Returns its descriptor.
    pub fn attestation(&self, subject: &Value) -> Value {
        let statement = json!({"_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": "app", "digest": {"sha256": subject["digest"].as_str().expect("digest")[7..]}}],
            "predicate": {"builder": {"id": "ecr-ship tests"}}});
        let statement = serde_json::to_vec(&statement).expect("statement json");
        let (statement_digest, statement_size) = self.blob(&statement);
        let config = json!({"architecture": "unknown", "os": "unknown", "config": {},
                            "rootfs": {"type": "layers", "diff_ids": [statement_digest]}});
        let (config_digest, config_size) = self.blob(&serde_json::to_vec(&config).expect("config json"));
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": statement_digest, "size": statement_size,
                        "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}]});
        let (digest, size) = self.blob(&serde_json::to_vec(&manifest).expect("manifest json"));
        json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
               "annotations": {"vnd.docker.reference.digest": subject["digest"],
                               "vnd.docker.reference.type": "attestation-manifest"},
               "platform": {"architecture": "unknown", "os": "unknown"}})
    }

    /// Adds an index.json entry named `name`.
    pub fn name(&mut self, descriptor: Value, name: &str) -> String {
        self.name_with(descriptor, json!({"org.opencontainers.image.ref.name": name}))
    }

    /// Adds an index.json entry named as buildx names it: the full name in `io.containerd.image.name`, the tag in
    /// `org.opencontainers.image.ref.name`.
    pub fn name_as_buildx(&mut self, descriptor: Value, full_name: &str) -> String {
        let tag = full_name.rsplit_once(':').map_or("latest", |(_, tag)| tag);
        self.name_with(
            descriptor,
            json!({"io.containerd.image.name": full_name, "org.opencontainers.image.ref.name": tag}),
        )
    }

    fn name_with(&mut self, mut descriptor: Value, annotations: Value) -> String {
        descriptor["annotations"] = annotations;
        let digest = descriptor["digest"].as_str().expect("digest").to_string();
        self.index.push(descriptor);
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.index});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index).expect("index json"))
            .expect("write index.json");
        digest
    }

    /// Writes the layout as an OCI archive, the tar `buildx --output type=oci,dest=FILE` writes (blobs first, as
    /// buildx does), plus `extra` entries.
    pub fn archive(&self, path: &Path, extra: &[(String, Vec<u8>)]) {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut blobs: Vec<PathBuf> = std::fs::read_dir(self.dir.join("blobs/sha256"))
            .expect("read blobs")
            .map(|entry| entry.expect("blob entry").path())
            .collect();
        blobs.sort();
        for blob in blobs {
            let name = format!("blobs/sha256/{}", blob.file_name().expect("name").to_string_lossy());
            files.push((name, std::fs::read(&blob).expect("read blob")));
        }
        for name in ["oci-layout", "index.json"] {
            files.push((name.to_string(), std::fs::read(self.dir.join(name)).expect("read layout file")));
        }
        files.extend(extra.iter().cloned());
        write_tar(path, &files, &[]);
    }

    pub fn source(&self, reference: Option<&str>) -> ImageSource {
        ImageSource::OciLayout { dir: self.dir.clone(), reference: reference.map(str::to_string) }
    }
}

/// A tar file assembled from (name, bytes) entries plus symlinks, as `docker save` writes them.
pub fn write_tar(path: &Path, files: &[(String, Vec<u8>)], symlinks: &[(String, String)]) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).expect("create archive"));
    for (name, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, data.as_slice()).expect("append");
    }
    for (name, target) in symlinks {
        let mut header = tar::Header::new_ustar();
        header.set_size(0);
        header.set_mode(0o777);
        header.set_entry_type(tar::EntryType::Symlink);
        builder.append_link(&mut header, name, target).expect("append link");
    }
    builder.finish().expect("finish archive");
}

/// A classic `docker save` archive (manifest.json, `<hex>.json` config, `<id>/layer.tar` per layer, a repeated
/// layer stored once and symlinked) of one image tagged `repo_tag`, whose layer blobs are `layers` exactly as
/// given (uncompressed tars as docker writes them, or gzip for archives other tools make) with the uncompressed
/// digests `diff_ids`. Returns the config bytes.
pub fn classic_archive(path: &Path, repo_tag: &str, layers: &[Vec<u8>], diff_ids: &[String]) -> Vec<u8> {
    classic_archive_for("amd64", path, repo_tag, layers, diff_ids)
}

/// [`classic_archive`] of an image for `architecture` (linux).
pub fn classic_archive_for(
    architecture: &str,
    path: &Path,
    repo_tag: &str,
    layers: &[Vec<u8>],
    diff_ids: &[String],
) -> Vec<u8> {
    let config =
        serde_json::to_vec(&json!({"architecture": architecture, "os": "linux", "config": {"Cmd": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}}))
        .expect("config json");
    let config_name = format!("{}.json", hex(&Sha256::digest(&config)));
    let mut files = vec![(config_name.clone(), config.clone())];
    let mut links = Vec::new();
    let mut names = Vec::new();
    for (position, layer) in layers.iter().enumerate() {
        let name = format!("{position:04}/layer.tar");
        match layers[..position].iter().position(|earlier| earlier == layer) {
            Some(first) => links.push((name.clone(), format!("../{first:04}/layer.tar"))),
            None => files.push((name.clone(), layer.clone())),
        }
        names.push(name);
    }
    let manifest = json!([{"Config": config_name, "RepoTags": [repo_tag], "Layers": names}]);
    files.insert(0, ("manifest.json".into(), serde_json::to_vec(&manifest).expect("manifest json")));
    write_tar(path, &files, &links);
    config
}

/// A layer tar of compressible content, roughly `size` bytes: text lines like a package's file list and docs, with
/// some pseudo-random bytes in between, as real layers mix text and binaries.
pub fn text_layer(name: &str, size: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(size);
    let mut line = 0usize;
    while text.len() < size * 3 / 4 {
        text.extend_from_slice(
            format!("{name} {line}: /usr/share/doc/package-{}/changelog.gz\n", line % 311).as_bytes(),
        );
        line += 1;
    }
    text.extend_from_slice(&random_bytes(size / 4));
    layer_tar(&[(name, text)])
}

/// The commit the push tests tag.
pub const SHA: &str = "3f786850e387550fdab836ed7e6dc881de23001b";

/// An OCI layout with one single-platform image named `latest`; returns its manifest digest.
pub fn single_image_layout(dir: &Path, seed: &str) -> String {
    let mut layout = Layout::new(dir);
    let layers = [random_layer(&format!("{seed}-a"), 40_000, true), random_layer(&format!("{seed}-b"), 70_000, false)];
    let manifest = layout.image(&layers, "amd64");
    layout.name(manifest, "latest")
}
