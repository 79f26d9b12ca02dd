//! Joining images into one multi-platform index, as pure functions of manifests and configs: what a source
//! manifest contributes (itself, with the platform its config names, or an index's children), and the index that
//! lists them all (OCI, or a Docker manifest list when every child is Docker schema 2), refusing two children of one
//! platform. A leaf: it reads and writes JSON only; `ecr-ship merge` fetches the bytes and puts the result.

use serde_json::{Map, Value, json};

use crate::media_type::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};

/// A manifest the index will list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    /// `os`, `architecture`, `variant`, `os.version`, as the manifest's config (or its index) names them.
    pub platform: Option<Map<String, Value>>,
    /// An index child's annotations (buildx's attestation entries carry theirs), kept as they are.
    pub annotations: Option<Map<String, Value>>,
}

/// What one source manifest is.
pub enum Contribution {
    /// A single-platform image: its config blob (this digest) names the platform.
    Image { media_type: String, config_digest: String },
    /// An index or manifest list: its children, as listed.
    Children(Vec<Child>),
}

/// Reads a source manifest (exact bytes and media type as stored).
pub fn contribution(bytes: &[u8], media_type: &str) -> anyhow::Result<Contribution> {
    let manifest: Value =
        serde_json::from_slice(bytes).map_err(|e| anyhow::anyhow!("the manifest is not JSON ({e})"))?;
    let media_type = manifest.get("mediaType").and_then(Value::as_str).unwrap_or(media_type).to_string();
    if media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST {
        let entries = manifest.get("manifests").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let children = entries.iter().map(child_of_entry).collect::<anyhow::Result<Vec<_>>>()?;
        return Ok(Contribution::Children(children));
    }
    if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST {
        anyhow::bail!("its media type is {media_type}, which is neither an image manifest nor an index");
    }
    let Some(config_digest) = manifest.pointer("/config/digest").and_then(Value::as_str) else {
        anyhow::bail!("it has no config descriptor");
    };
    if !crate::digest::is_digest(config_digest) {
        anyhow::bail!("its config digest '{config_digest}' is not a sha256 digest");
    }
    Ok(Contribution::Image { media_type, config_digest: config_digest.to_string() })
}

fn child_of_entry(entry: &Value) -> anyhow::Result<Child> {
    let digest = entry.get("digest").and_then(Value::as_str).filter(|d| crate::digest::is_digest(d));
    let size = entry.get("size").and_then(Value::as_u64);
    let media_type = entry.get("mediaType").and_then(Value::as_str);
    let (Some(digest), Some(size), Some(media_type)) = (digest, size, media_type) else {
        anyhow::bail!("an index entry lacks its digest, size or media type: {entry}");
    };
    Ok(Child {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size,
        platform: entry.get("platform").and_then(Value::as_object).map(platform_fields),
        annotations: entry.get("annotations").and_then(Value::as_object).cloned(),
    })
}

/// The platform fields ECR's schema models; `features` (which ECR refuses) and anything unknown are dropped.
fn platform_fields(source: &Map<String, Value>) -> Map<String, Value> {
    ["architecture", "os", "os.version", "variant"]
        .iter()
        .filter_map(|key| source.get(*key).filter(|v| v.is_string()).map(|v| (key.to_string(), v.clone())))
        .collect()
}

/// The platform an image's config names (`architecture`, `os`, `variant`, `os.version`).
pub fn platform_of_config(config: &[u8]) -> anyhow::Result<Map<String, Value>> {
    let config: Value =
        serde_json::from_slice(config).map_err(|e| anyhow::anyhow!("the image config is not JSON ({e})"))?;
    let Some(object) = config.as_object() else { anyhow::bail!("the image config is not a JSON object") };
    let platform = platform_fields(object);
    if !platform.contains_key("architecture") || !platform.contains_key("os") {
        anyhow::bail!("the image config names no os and architecture");
    }
    Ok(platform)
}

/// `linux/arm64/v8`, for messages and the duplicate check; attestation entries are `unknown/unknown`.
pub fn platform_name(platform: Option<&Map<String, Value>>) -> String {
    let Some(platform) = platform else { return "no platform".to_string() };
    let field = |key: &str| platform.get(key).and_then(Value::as_str).unwrap_or_default();
    let mut name = format!("{}/{}", field("os"), field("architecture"));
    if !field("variant").is_empty() {
        name.push('/');
        name.push_str(field("variant"));
    }
    if !field("os.version").is_empty() {
        name.push_str(&format!(" ({})", field("os.version")));
    }
    name
}

/// The index over `children` in their order: a Docker manifest list when every child is Docker schema 2, else an
/// OCI image index. Returns its bytes and media type. A platform listed twice is refused, naming both children;
/// the same child listed twice (two sources sharing one) is listed once. Attestation entries (`unknown/unknown`)
/// never clash.
pub fn build_index(children: &[Child]) -> anyhow::Result<(Vec<u8>, &'static str)> {
    let mut kept: Vec<&Child> = Vec::new();
    for child in children {
        if kept.iter().any(|k| k.digest == child.digest) {
            continue;
        }
        let name = platform_name(child.platform.as_ref());
        let checked = child.platform.is_some() && name != "unknown/unknown";
        if checked && let Some(other) = kept.iter().find(|k| platform_name(k.platform.as_ref()) == name) {
            anyhow::bail!(
                "two images are for {name}: {} and {}; an index can list one image per platform, so merge only one \
                 of them",
                other.digest,
                child.digest
            );
        }
        kept.push(child);
    }
    if kept.is_empty() {
        anyhow::bail!("there is no image to list");
    }
    let docker = kept.iter().all(|c| c.media_type == DOCKER_MANIFEST);
    let media_type = if docker { DOCKER_MANIFEST_LIST } else { OCI_INDEX };
    let manifests: Vec<Value> = kept
        .iter()
        .map(|child| {
            let mut entry = Map::new();
            entry.insert("mediaType".into(), json!(child.media_type));
            entry.insert("digest".into(), json!(child.digest));
            entry.insert("size".into(), json!(child.size));
            if let Some(platform) = &child.platform {
                entry.insert("platform".into(), Value::Object(platform.clone()));
            }
            if let Some(annotations) = child.annotations.as_ref().filter(|_| !docker) {
                entry.insert("annotations".into(), Value::Object(annotations.clone()));
            }
            Value::Object(entry)
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests});
    Ok((serde_json::to_vec(&index)?, media_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(digest_byte: char, media_type: &str, platform: Option<Value>) -> Child {
        Child {
            media_type: media_type.into(),
            digest: format!("sha256:{}", digest_byte.to_string().repeat(64)),
            size: 100,
            platform: platform.and_then(|p| p.as_object().cloned()),
            annotations: None,
        }
    }

    #[test]
    fn docker_children_make_a_manifest_list_and_any_oci_child_an_oci_index() {
        let amd = child('a', DOCKER_MANIFEST, Some(json!({"os": "linux", "architecture": "amd64"})));
        let arm = child('b', DOCKER_MANIFEST, Some(json!({"os": "linux", "architecture": "arm", "variant": "v7"})));
        let (bytes, media_type) = build_index(&[amd.clone(), arm.clone()]).unwrap();
        assert_eq!(media_type, DOCKER_MANIFEST_LIST);
        let index: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(index["manifests"][1]["platform"]["variant"], "v7");
        let oci = child('c', OCI_MANIFEST, Some(json!({"os": "linux", "architecture": "arm64"})));
        assert_eq!(build_index(&[amd.clone(), oci.clone()]).unwrap().1, OCI_INDEX);
        assert_eq!(build_index(&[amd.clone(), arm.clone()]).unwrap().0, bytes, "deterministic");
        assert_eq!(build_index(&[amd.clone(), amd.clone(), arm]).unwrap().0, bytes, "one child listed once");
    }

    #[test]
    fn one_image_per_platform_but_attestations_never_clash() {
        let one = child('a', OCI_MANIFEST, Some(json!({"os": "linux", "architecture": "arm64"})));
        let two = child('b', OCI_MANIFEST, Some(json!({"os": "linux", "architecture": "arm64"})));
        let message = build_index(&[one.clone(), two.clone()]).unwrap_err().to_string();
        assert!(message.contains("linux/arm64") && message.contains(&one.digest) && message.contains(&two.digest));
        let v8 = child('c', OCI_MANIFEST, Some(json!({"os": "linux", "architecture": "arm64", "variant": "v8"})));
        assert!(build_index(&[one.clone(), v8]).is_ok(), "a variant is another platform");
        let attest = |d| child(d, OCI_MANIFEST, Some(json!({"os": "unknown", "architecture": "unknown"})));
        assert!(build_index(&[one, attest('d'), attest('e')]).is_ok());
        assert!(build_index(&[]).is_err());
    }

    #[test]
    fn sources_say_what_they_contribute() {
        let image = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", "1".repeat(64)), "size": 2},
            "layers": []});
        let bytes = serde_json::to_vec(&image).unwrap();
        assert!(matches!(contribution(&bytes, "").unwrap(), Contribution::Image { .. }));
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": format!("sha256:{}", "2".repeat(64)), "size": 9,
             "platform": {"os": "linux", "architecture": "amd64", "features": ["sse4"]}}]});
        let Contribution::Children(children) = contribution(&serde_json::to_vec(&index).unwrap(), "").unwrap() else {
            panic!("children")
        };
        assert!(!children[0].platform.as_ref().unwrap().contains_key("features"), "ECR refuses platform.features");
        assert!(contribution(b"{\"mediaType\":\"application/vnd.example\"}", "").is_err());
        assert!(contribution(b"not json", OCI_MANIFEST).is_err());
        let config = br#"{"architecture":"arm","variant":"v7","os":"linux","rootfs":{}}"#;
        assert_eq!(platform_name(Some(&platform_of_config(config).unwrap())), "linux/arm/v7");
        assert!(platform_of_config(br#"{"rootfs":{}}"#).is_err());
    }
}
