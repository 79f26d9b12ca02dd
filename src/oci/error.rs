//! Typed push failures, and the mapping from the registry's `{"errors":[{code,message}]}` envelope to them.
//!
//! Every variant's message starts with the action that failed (`uploading layer sha256:… to team/app`), so a
//! printed error names the resource without a context chain. Callers that react to a particular failure (the
//! immutable-tag case above all) downcast the `anyhow::Error` from [`push`](super::push) to [`Error`].

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ECR refused to move a tag in a repository with immutable tags (registry code TAG_INVALID).
    #[error(
        "{action}: the tag '{tag}' already exists in {repository} and cannot be overwritten because the \
         repository's tags are immutable ({message})"
    )]
    TagImmutable { action: String, repository: String, tag: String, message: String },

    #[error("{action}: the registry rejected the tag (TAG_INVALID: {message})")]
    TagInvalid { action: String, message: String },

    #[error(
        "{action}: the registry rejected the credentials (UNAUTHORIZED: {message}); the ECR login token may have \
         expired or be for another account or region"
    )]
    Unauthorized { action: String, message: String },

    #[error("{action}: access denied (DENIED: {message}); the role needs push permissions on the repository")]
    Denied { action: String, message: String },

    /// ECR's expired-token answer, still refused after the one refresh.
    #[error(
        "{action}: the registry says the login token expired (DENIED: {message}), and a fresh token was refused \
         too; check the machine's clock, and that the role may call ecr:GetAuthorizationToken"
    )]
    TokenExpired { action: String, message: String },

    /// A 403 for a service quota (images per repository, layers per image), which no permission fixes.
    #[error(
        "{action}: an ECR quota is reached ({code}: {message}); this is not a permissions problem: expire old \
         images (a lifecycle policy), or ask AWS for a quota increase"
    )]
    Quota { action: String, code: String, message: String },

    #[error(
        "{action}: the registry refused the upload (BLOB_UPLOAD_INVALID: {message}); ECR answers this for an empty \
         (zero-byte) blob and for bytes that do not match their digest: check the image source and run again"
    )]
    BlobUploadInvalid { action: String, message: String },

    #[error("{action}: the repository does not exist (NAME_UNKNOWN: {message})")]
    NameUnknown { action: String, message: String },

    #[error("{action}: the registry computed a different digest for the bytes it received (DIGEST_INVALID: {message})")]
    DigestInvalid { action: String, message: String },

    #[error("{action}: the registry does not have a blob the manifest references (MANIFEST_BLOB_UNKNOWN: {message})")]
    ManifestBlobUnknown { action: String, message: String },

    #[error("{action}: the registry rejected the manifest ({code}: {message}){}", schema_hint(.code))]
    ManifestInvalid { action: String, code: String, message: String },

    /// The local bytes do not hash to the digest their manifest promises; the upload was aborted before its end.
    #[error("{action}: the local file does not match its digest (read {actual}); the image source is corrupt")]
    BlobCorrupt { action: String, actual: String },

    #[error("{action}: cannot read the local file: {message}")]
    LocalRead { action: String, message: String },

    #[error("{action}: the registry answered HTTP {status}{}", describe(.code, .message))]
    Status { action: String, status: u16, code: Option<String>, message: String },

    #[error("{action}: {message}{}", after_attempts(*.attempts))]
    Transport { action: String, message: String, attempts: u32 },

    #[error("{action}: getting registry credentials failed: {message}")]
    Credentials { action: String, message: String },

    /// The registry's token service (its Bearer challenge's realm) gave no bearer token.
    #[error("{action}: the registry's token service {realm} gave no token: {message}")]
    TokenService { action: String, realm: String, message: String },

    #[error("{action}: the registry sent {what}")]
    Protocol { action: String, what: String },

    #[error("pushing to {repository} did not finish within {}s (the push timeout)", .after.as_secs())]
    Timeout { repository: String, after: Duration },
}

/// ECR's 405 UNSUPPORTED means a field its schema does not model (the pre-flight catches the known ones).
fn schema_hint(code: &str) -> &'static str {
    if code == "UNSUPPORTED" {
        "; ECR's manifest schema is stricter than OCI's: remove fields it does not model (config annotations, \
         platform.features, media type parameters) or rebuild the image with the builder's OCI defaults"
    } else {
        ""
    }
}

/// ECR's quota refusals read like this (images per repository, layers per image).
fn is_quota(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["quota", "limit on number", "limit exceeded", "exceeded the limit"].iter().any(|needle| lower.contains(needle))
}

fn after_attempts(attempts: u32) -> String {
    if attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() }
}

fn describe(code: &Option<String>, message: &str) -> String {
    match (code, message.is_empty()) {
        (Some(code), false) => format!(" ({code}: {message})"),
        (Some(code), true) => format!(" ({code})"),
        (None, false) => format!(": {message}"),
        (None, true) => String::new(),
    }
}

impl Error {
    /// The tag when this is the immutable-tag refusal.
    pub fn immutable_tag(&self) -> Option<&str> {
        match self {
            Error::TagImmutable { tag, .. } => Some(tag),
            _ => None,
        }
    }
}

/// The first `{code, message}` of a registry error body, if it has the envelope.
pub fn parse_envelope(body: &[u8]) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    let first = envelope.errors.into_iter().next()?;
    Some((first.code, first.message))
}

/// Turns a non-success answer into the matching variant. `tag` is the tag being put, if any.
pub fn from_response(action: &str, repository: &str, tag: Option<&str>, status: u16, body: &[u8]) -> Error {
    let action = action.to_string();
    let Some((code, message)) = parse_envelope(body) else {
        // A proxy's HTML page, say: one line of it, cut (crate::error::shown), never the whole multi-line page.
        let text = String::from_utf8_lossy(body);
        let message = crate::error::shown(&text.split_whitespace().collect::<Vec<_>>().join(" "));
        return match status {
            401 => Error::Unauthorized { action, message: "authentication required".into() },
            403 => Error::Denied { action, message: if message.is_empty() { "forbidden".into() } else { message } },
            _ => Error::Status { action, status, code: None, message },
        };
    };
    let lower = message.to_ascii_lowercase();
    let quota = is_quota(&message);
    // The registry's words are a value from outside: one line, cut.
    let message = crate::error::shown(&message);
    match code.as_str() {
        "UNAUTHORIZED" => Error::Unauthorized { action, message },
        "DENIED" if lower.contains("expired") => Error::TokenExpired { action, message },
        "DENIED" | "TOOMANYREQUESTS" | "UNSUPPORTED" if quota => Error::Quota { action, code, message },
        "DENIED" => Error::Denied { action, message },
        "BLOB_UPLOAD_INVALID" => Error::BlobUploadInvalid { action, message },
        "NAME_UNKNOWN" => Error::NameUnknown { action, message },
        "DIGEST_INVALID" => Error::DigestInvalid { action, message },
        "MANIFEST_BLOB_UNKNOWN" | "BLOB_UNKNOWN" if tag.is_some() || action.contains("manifest") => {
            Error::ManifestBlobUnknown { action, message }
        }
        "TAG_INVALID" => match tag {
            Some(tag) if lower.contains("immutable") || lower.contains("already exists") => {
                Error::TagImmutable { action, repository: repository.to_string(), tag: tag.to_string(), message }
            }
            _ => Error::TagInvalid { action, message },
        },
        "MANIFEST_INVALID" | "MANIFEST_UNVERIFIED" | "SIZE_INVALID" | "UNSUPPORTED" => {
            Error::ManifestInvalid { action, code, message }
        }
        _ => Error::Status { action, status, code: Some(code), message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_immutability_refusal_is_typed() {
        let body = br#"{"errors":[{"code":"TAG_INVALID","message":"tag invalid: The image tag 'v1' already exists in the 'team/app' repository and cannot be overwritten because the repository is immutable."}]}"#;
        let error = from_response("putting manifest as team/app:v1", "team/app", Some("v1"), 400, body);
        assert_eq!(error.immutable_tag(), Some("v1"));
        assert!(error.to_string().starts_with("putting manifest as team/app:v1: the tag 'v1' already exists"));
    }

    #[test]
    fn envelope_codes_map_to_distinct_messages() {
        let envelope = |code: &str| format!(r#"{{"errors":[{{"code":"{code}","message":"m","detail":null}}]}}"#);
        let check = |code: &str, needle: &str| {
            let error = from_response("act", "r", Some("t"), 400, envelope(code).as_bytes());
            assert!(error.to_string().contains(needle), "{code}: {error}");
        };
        check("UNAUTHORIZED", "rejected the credentials");
        check("DENIED", "access denied");
        check("DIGEST_INVALID", "different digest");
        check("MANIFEST_BLOB_UNKNOWN", "does not have a blob");
        check("TAG_INVALID", "rejected the tag");
        check("BLOB_UPLOAD_INVALID", "empty (zero-byte) blob");
        check("UNSUPPORTED", "stricter than OCI's");
        check("SOMETHING_NEW", "HTTP 400 (SOMETHING_NEW: m)");
    }

    #[test]
    fn ecr_403s_say_which_kind_of_refusal_they_are() {
        let body = |message: &str| format!(r#"{{"errors":[{{"code":"DENIED","message":"{message}"}}]}}"#);
        let cases = [
            ("Your authorization token has expired. Reauthenticate and try again.", "login token expired"),
            ("The maximum number of images per repository quota has been reached", "not a permissions problem"),
            (
                "User: arn:aws:sts::1:assumed-role/ci is not authorized to perform: ecr:InitiateLayerUpload",
                "needs push permissions",
            ),
        ];
        for (message, needle) in cases {
            let error = from_response("act", "r", None, 403, body(message).as_bytes());
            assert!(error.to_string().contains(needle), "{message}: {error}");
        }
    }

    #[test]
    fn bodies_without_an_envelope_still_read_well() {
        let error = from_response("act", "r", None, 502, b"<html>Bad Gateway</html>");
        assert_eq!(error.to_string(), "act: the registry answered HTTP 502: <html>Bad Gateway</html>");
        let error = from_response("act", "r", None, 401, b"");
        assert!(matches!(error, Error::Unauthorized { .. }));
    }

    #[test]
    fn a_proxys_multi_line_page_is_one_cut_line() {
        let page = format!(
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\n{}\n</body>\n</html>\n",
            "<p>upstream connect error or disconnect/reset before headers</p>\n".repeat(100)
        );
        let message = from_response("act", "r", None, 502, page.as_bytes()).to_string();
        assert!(!message.contains('\n') && !message.contains('\r'), "{message}");
        assert!(
            message.starts_with("act: the registry answered HTTP 502: <html> <head><title>502 Bad Gateway"),
            "{message}"
        );
        assert!(message.contains("more characters]") && message.chars().count() < 400, "{message}");
        let envelope =
            format!(r#"{{"errors":[{{"code":"DENIED","message":"line one\nline two {}"}}]}}"#, "y".repeat(500));
        let message = from_response("act", "r", None, 403, envelope.as_bytes()).to_string();
        assert!(message.contains(r"line one\nline two") && message.contains("more characters]"), "{message}");
    }
}
