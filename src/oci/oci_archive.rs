//! Reads an OCI archive, the tar of an OCI image layout (what `docker buildx build --output type=oci,dest=FILE`,
//! `podman save --format oci-archive` and `skopeo copy … oci-archive:FILE` write), into a push plan without
//! extracting it: `tar_index` finds every entry's byte range in one pass over the headers, and the layout reader
//! (`layout`) does the rest exactly as for a layout directory, so a blob is pushed straight from the tar.
//!
//! A compressed archive (`.tar.gz`, `.tar.zst`) is refused with the advice to decompress it first: blobs are byte
//! ranges of the uncompressed tar, and stream-decompressing would need a copy the size of the image on disk.

use std::path::Path;

use crate::bail_input;

use super::layout::{self, Extent, LayoutFiles, SourceName};
use super::plan::Plan;
use super::tar_index::{TarIndex, TarKind};

const KIND: TarKind = TarKind { noun: "OCI archive", decompress: "gunzip, or unzstd" };

/// Plans a push of the image in the OCI archive `file` named `reference` (or its only image).
pub fn plan(file: &Path, reference: Option<&str>) -> anyhow::Result<Plan> {
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
