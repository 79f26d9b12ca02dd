//! Media types: the one list of the manifest, config and layer types ecr-ship reads, pushes and asks ECR for.
//!
//! ECR stores exactly four manifest kinds; BatchGetImage returns only the kinds it is told to accept and a
//! registry GET negotiates on the same list, so every reader uses [`MANIFEST_MEDIA_TYPES`].

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Every manifest media type ECR stores: the `Accept` list for reading manifests back and BatchGetImage's
/// `acceptedMediaTypes`.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

/// True for the two index kinds (OCI image index, Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// True for one of the four manifest kinds ECR stores.
pub fn is_manifest(media_type: &str) -> bool {
    MANIFEST_MEDIA_TYPES.contains(&media_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_manifests_and_layers_are_not() {
        assert!(is_index(OCI_INDEX) && is_index(DOCKER_MANIFEST_LIST) && !is_index(OCI_MANIFEST));
        assert!(MANIFEST_MEDIA_TYPES.iter().all(|m| is_manifest(m)));
        assert!(!is_manifest(OCI_LAYER_GZIP) && !is_manifest(DOCKER_CONFIG));
    }
}
