//! Pre-flight against Amazon ECR's manifest schema: every manifest a plan would put is checked the way ECR checks
//! it, before anything is uploaded. ECR models fewer fields than the OCI specification allows and answers a PUT of
//! the rest with 405 UNSUPPORTED "Invalid JSON syntax" (docs/ecr-behaviour.md §1), after
//! every blob has already gone up. Here such a manifest is bad input (exit 2) that names the manifest, the field
//! and what to change.
//!
//! ECR also cannot store a zero-byte blob: completing such an upload answers 400 BLOB_UPLOAD_INVALID "...cannot be
//! completed because it does not have any parts" (docs/ecr-behaviour.md §7; devcontainers/cli#814, radius-project/radius#7887), and a
//! manifest that names a blob ECR lacks is refused too. No client works around it on the push side (crane, buildkit
//! and skopeo send the empty upload and fail); the fix every affected producer shipped is the OCI empty descriptor
//! (`{}`, 2 bytes) in place of an empty config. So a plan with a zero-byte blob is refused here, naming the blob.

use serde_json::Value;

use super::image_plan::ImagePlan;

/// Checks the plan's blobs, its child manifests and its top-level manifest.
pub fn check(plan: &ImagePlan) -> anyhow::Result<()> {
    if let Some(empty) = plan.blobs.iter().find(|blob| blob.size == 0) {
        crate::bail_input!(
            "ECR cannot store the zero-byte {} {} (400 BLOB_UPLOAD_INVALID: an upload without any parts): rebuild the \
             image so it names no empty blob; for an empty config use the OCI empty descriptor, the 2-byte `{{}}` \
             of media type application/vnd.oci.empty.v1+json (what oras, devcontainers and radius switched to). \
             Nothing was uploaded",
            empty.kind.label(),
            empty.digest
        );
    }
    for manifest in plan.children.iter().chain(std::iter::once(&plan.top)) {
        check_manifest(&manifest.digest, &manifest.bytes)?;
    }
    Ok(())
}

/// Checks one manifest against ECR's schema: a plan's, or the index `ecr-ship merge` builds before its PutImage.
pub fn check_manifest(digest: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let Ok(document) = serde_json::from_slice::<Value>(bytes) else { return Ok(()) };
    if let Some((field, fix)) = refusal(&document) {
        crate::bail_input!(
            "ECR would refuse manifest {digest} (405 UNSUPPORTED, after every blob was uploaded): {field}; {fix}. \
             Nothing was uploaded"
        );
    }
    Ok(())
}

const PARAMETERS_FIX: &str = "ECR accepts media types without parameters only (aws/containers-roadmap#2306): write \
     the bare type, e.g. application/vnd.oci.image.layer.v1.tar+gzip";

/// The first field of `document` ECR refuses, and what to do about it.
fn refusal(document: &Value) -> Option<(String, &'static str)> {
    let with_parameters = |value: &Value| value.as_str().is_some_and(|text| text.contains(';'));
    if let Some(config) = document.get("config") {
        if config.get("annotations").is_some() {
            return Some((
                "config.annotations is set".into(),
                "ECR refuses annotations on the config descriptor (goharbor/acceleration-service#353); put them on \
                 the manifest instead, or convert the image without config annotations",
            ));
        }
        if config.get("mediaType").is_some_and(with_parameters) {
            return Some((
                format!("config.mediaType '{}' has parameters", config["mediaType"].as_str()?),
                PARAMETERS_FIX,
            ));
        }
    }
    if document.get("artifactType").is_some_and(with_parameters) {
        return Some((format!("artifactType '{}' has parameters", document["artifactType"].as_str()?), PARAMETERS_FIX));
    }
    for (list, items) in [("layers", document.get("layers")), ("manifests", document.get("manifests"))] {
        for (index, item) in items.and_then(Value::as_array).into_iter().flatten().enumerate() {
            for key in ["mediaType", "artifactType"] {
                if item.get(key).is_some_and(with_parameters) {
                    return Some((
                        format!("{list}[{index}].{key} '{}' has parameters", item[key].as_str()?),
                        PARAMETERS_FIX,
                    ));
                }
            }
            if item.pointer("/platform/features").is_some() {
                return Some((
                    format!("{list}[{index}].platform.features is set"),
                    "ECR refuses platform.features in an index entry (aws/containers-roadmap#2439); build the index \
                     without it (it is reserved by the OCI specification and no runtime reads it)",
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_field_ecr_refuses_is_named() {
        let layer =
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:a", "size": 1});
        let cases = [
            (
                json!({"config": {"mediaType": "x", "annotations": {"a": "b"}}, "layers": [layer]}),
                Some("config.annotations"),
            ),
            (
                json!({"config": {"mediaType": "x"}, "layers": [layer, {"mediaType": "a+json;version=0.3"}]}),
                Some("layers[1].mediaType"),
            ),
            (
                json!({"artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json;version=0.3"}),
                Some("artifactType"),
            ),
            (
                json!({"manifests": [{"mediaType": "m", "platform": {"os": "linux", "features": ["sse4"]}}]}),
                Some("manifests[0].platform.features"),
            ),
            (json!({"config": {"mediaType": "x"}, "layers": [layer], "annotations": {"ok": "on the manifest"}}), None),
            (
                json!({"manifests": [{"mediaType": "m", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}),
                None,
            ),
        ];
        for (document, expected) in cases {
            let found = refusal(&document).map(|(field, _)| field);
            match expected {
                Some(field) => assert!(found.as_deref().is_some_and(|f| f.starts_with(field)), "{document}: {found:?}"),
                None => assert_eq!(found, None, "{document}"),
            }
        }
    }
}
