//! Reads an OCI archive, the tar of an OCI image layout (what `docker buildx build --output type=oci,dest=FILE`,
//! `podman save --format oci-archive` and `skopeo copy … oci-archive:FILE` write), into a push plan without
//! extracting it: `tar_index` finds every entry's byte range in one pass over the headers, and the layout reader
//! (`layout`) does the rest exactly as for a layout directory, so a blob is pushed straight from the tar.
//!
//! A compressed archive (`.tar.gz`, `.tar.zst`) is refused with the advice to decompress it first: blobs are byte
//! ranges of the uncompressed tar, and stream-decompressing would need a copy the size of the image on disk.

use std::path::Path;

use crate::bail_input;

use super::image_plan::ImagePlan;
use super::layout::{self, Extent, LayoutFiles, SourceName};
use super::tar_index::{TarIndex, TarKind};

const KIND: TarKind = TarKind { noun: "OCI archive", gunzip: "gunzip" };

/// Plans a push of the image in the OCI archive `file` named `reference` (or its only image).
pub fn plan(file: &Path, reference: Option<&str>) -> anyhow::Result<ImagePlan> {
    let index = TarIndex::read(file, &KIND)?;
    if index.resolve("oci-layout")?.is_none() && index.resolve("manifest.json")?.is_some() {
        bail_input!(
            "'{}' is a docker save archive without an OCI layout, not an OCI archive: push it with docker-archive:{}",
            file.display(),
            file.display()
        );
    }
    let name = SourceName {
        noun: "OCI archive",
        form: "oci-archive",
        path: file.to_path_buf(),
        make: "`docker buildx build --output type=oci,dest=FILE`, `podman save --format oci-archive -o FILE` or \
               `skopeo copy … oci-archive:FILE`",
    };
    layout::plan_files(&Archive { index, name }, reference)
}

/// The layout's files as entries of the tar.
struct Archive {
    index: TarIndex,
    name: SourceName,
}

impl LayoutFiles for Archive {
    fn source(&self) -> &SourceName {
        &self.name
    }

    fn read_small(&self, name: &str, limit: u64) -> anyhow::Result<Option<Vec<u8>>> {
        self.index.read_small(name, limit)
    }

    fn locate(&self, name: &str) -> anyhow::Result<Option<Extent>> {
        let found = self.index.resolve(name)?;
        Ok(found.map(|(offset, length)| Extent { file: self.index.file.clone(), offset, length }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::{Read as _, Seek as _, SeekFrom};

    use serde_json::{Value, json};

    use super::*;
    use crate::digest::sha256_digest;
    use crate::error::{EXIT_BAD_INPUT, exit_code};
    use crate::media_type::{OCI_INDEX, OCI_MANIFEST};

    /// An OCI layout being assembled in memory, then written as a tar.
    #[derive(Default)]
    struct Layout {
        files: BTreeMap<String, Vec<u8>>,
    }

    impl Layout {
        fn blob(&mut self, media_type: &str, bytes: &[u8]) -> Value {
            let digest = sha256_digest(bytes);
            self.files.insert(format!("blobs/sha256/{}", &digest[7..]), bytes.to_vec());
            json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
        }

        fn manifest(&mut self, architecture: &str, layers: &[(&str, &[u8])]) -> Value {
            let config = json!({"architecture": architecture, "os": architecture, "rootfs": {"type": "layers"}});
            let config = self.blob("application/vnd.oci.image.config.v1+json", config.to_string().as_bytes());
            let layers: Vec<Value> = layers.iter().map(|(media_type, bytes)| self.blob(media_type, bytes)).collect();
            let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers});
            self.blob(OCI_MANIFEST, manifest.to_string().as_bytes())
        }

        /// What buildx writes: an index of two platforms and an attestation manifest for each, named in index.json
        /// by its tag and full name. Returns the index digest and the children's.
        fn buildx(&mut self) -> (String, Vec<String>) {
            let mut children = Vec::new();
            for architecture in ["amd64", "arm64"] {
                let mut image = self.manifest(architecture, &[("application/vnd.oci.image.layer.v1.tar+gzip", b"gz")]);
                image["platform"] = json!({"os": "linux", "architecture": architecture});
                let statement = json!({"_type": "https://in-toto.io/Statement/v0.1", "subject": [image["digest"]]});
                let statement = statement.to_string();
                let mut attestation =
                    self.manifest("unknown", &[("application/vnd.in-toto+json", statement.as_bytes())]);
                attestation["platform"] = json!({"os": "unknown", "architecture": "unknown"});
                attestation["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": image["digest"]});
                children.extend([image, attestation]);
            }
            let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children});
            let mut top = self.blob(OCI_INDEX, index.to_string().as_bytes());
            top["annotations"] =
                json!({"io.containerd.image.name": "docker.io/team/app:v1", "org.opencontainers.image.ref.name": "v1"});
            self.files.insert("index.json".into(), json!({"schemaVersion": 2, "manifests": [top]}).to_string().into());
            self.files.insert("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec());
            let digests = children.iter().map(|c| c["digest"].as_str().unwrap().to_string()).collect();
            (top["digest"].as_str().unwrap().to_string(), digests)
        }

        fn write(&self, dir: &Path) -> std::path::PathBuf {
            let path = dir.join("image.tar");
            let mut builder = tar::Builder::new(std::fs::File::create(&path).unwrap());
            for (name, data) in &self.files {
                let mut header = tar::Header::new_ustar();
                header.set_size(data.len() as u64);
                header.set_mode(0o644);
                builder.append_data(&mut header, name, data.as_slice()).unwrap();
            }
            builder.finish().unwrap();
            path
        }
    }

    #[test]
    fn a_buildx_archive_plans_whole_with_blobs_as_ranges_of_the_tar() {
        let dir = tempfile::tempdir().unwrap();
        let mut layout = Layout::default();
        let (index, children) = layout.buildx();
        let file = layout.write(dir.path());
        for reference in [None, Some("v1"), Some("team/app:v1"), Some(index.as_str())] {
            let plan = plan(&file, reference).unwrap();
            assert_eq!((plan.top.digest.as_str(), plan.top.media_type.as_str()), (index.as_str(), OCI_INDEX));
            let planned: Vec<&str> = plan.children.iter().map(|c| c.digest.as_str()).collect();
            assert_eq!(planned, children.iter().map(String::as_str).collect::<Vec<_>>(), "every child, in order");
            // Configs: amd64, arm64 and the attestations' one; layers: the shared gzip one and two in-toto statements.
            assert_eq!(plan.blobs.len(), 6);
            for blob in &plan.blobs {
                assert_eq!(blob.path, file);
                let mut bytes = vec![0u8; blob.size as usize];
                let mut tar = std::fs::File::open(&blob.path).unwrap();
                tar.seek(SeekFrom::Start(blob.offset)).unwrap();
                tar.read_exact(&mut bytes).unwrap();
                assert_eq!(sha256_digest(&bytes), blob.digest, "the range holds the blob");
            }
        }
        let error = plan(&file, Some("v2")).unwrap_err();
        assert_eq!(exit_code(&error), EXIT_BAD_INPUT);
        let text = error.to_string();
        assert!(text.contains(&format!("the OCI archive '{}' has no image named 'v2'", file.display())), "{text}");
        assert!(text.contains("it has: v1, docker.io/team/app:v1"), "{text}");
    }

    #[test]
    fn broken_archives_are_bad_input_naming_the_archive_and_the_blob() {
        let dir = tempfile::tempdir().unwrap();
        let mut good = Layout::default();
        let (_, children) = good.buildx();
        let child = good.files[&format!("blobs/sha256/{}", &children[0][7..])].clone();
        let child: Value = serde_json::from_slice(&child).unwrap();
        let layer = child["layers"][0]["digest"].as_str().unwrap()[7..].to_string();
        let layer_name = format!("blobs/sha256/{layer}");
        let manifest_name = format!("blobs/sha256/{}", &children[0][7..]);
        type Break = Box<dyn Fn(&mut Layout)>;
        let cases: [(&str, Break); 6] = [
            (
                "no 'oci-layout' file (make one with `docker buildx build",
                Box::new(|l| {
                    l.files.remove("oci-layout");
                }),
            ),
            (
                "has no index.json",
                Box::new(|l| {
                    l.files.remove("index.json");
                }),
            ),
            (
                "is a docker save archive without an OCI layout",
                Box::new(|l| {
                    l.files.remove("oci-layout");
                    l.files.insert("manifest.json".into(), b"[]".to_vec());
                }),
            ),
            (&*format!("layer {} is missing from the OCI archive", &child["layers"][0]["digest"].as_str().unwrap()), {
                let name = layer_name.clone();
                Box::new(move |l| {
                    l.files.remove(&name);
                })
            }),
            ("is 3 bytes but its descriptor says 2; the layout is corrupt", {
                let name = layer_name.clone();
                Box::new(move |l| {
                    l.files.insert(name.clone(), b"gzz".to_vec());
                })
            }),
            ("does not match its descriptor", {
                let name = manifest_name.clone();
                Box::new(move |l| l.files.get_mut(&name).into_iter().for_each(|m| m[0] = b' '))
            }),
        ];
        for (expected, make_broken) in cases {
            let mut layout = Layout::default();
            layout.buildx();
            make_broken(&mut layout);
            let file = layout.write(dir.path());
            let error = plan(&file, None).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{expected}");
            let text = error.to_string();
            assert!(text.contains(expected) && text.contains(&file.display().to_string()), "{expected}: {text}");
        }
    }
}
