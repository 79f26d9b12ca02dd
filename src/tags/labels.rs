//! The OCI labels and annotations docker/metadata-action makes: `org.opencontainers.image.{created, description,
//! licenses, revision, source, title, url, version}` from the CI context (GitHub: the event payload's repository,
//! which is the object metadata-action reads from GitHub's API), plus the user's `key=value` additions with
//! metadata-action's `{{…}}` expressions, sorted by key, a later value replacing an earlier one. Pure.

use chrono::{DateTime, SecondsFormat, Utc};

use super::metadata::{self, RefContext};
use crate::bail_input;
use crate::ci::CiContext;

/// `key=value` lines, sorted by key: the OCI set for this build and `version` (the primary tag), then `extra`.
pub fn oci_labels(
    context: &CiContext,
    refs: &RefContext,
    version: Option<&str>,
    now: DateTime<Utc>,
    extra: &[String],
) -> anyhow::Result<Vec<String>> {
    let facts = &context.repository;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let mut entries: Vec<(String, String)> = [
        ("title", text(&facts.name)),
        ("description", text(&facts.description)),
        ("url", text(&facts.url)),
        ("source", text(&facts.url)),
        ("version", version.unwrap_or_default().to_string()),
        ("created", now.to_rfc3339_opts(SecondsFormat::Millis, true)),
        ("revision", text(&context.sha)),
        ("licenses", text(&facts.license)),
    ]
    .into_iter()
    .map(|(key, value)| (format!("org.opencontainers.image.{key}"), value))
    .collect();
    for line in extra {
        let rendered = metadata::render(line, refs)?;
        // As metadata-action: a line without '=' is dropped, the first '=' separates key and value.
        if let Some((key, value)) = rendered.split_once('=') {
            if key.trim().is_empty() {
                bail_input!("invalid label or annotation '{line}': expected KEY=VALUE");
            }
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value.to_string(),
                None => entries.push((key.to_string(), value.to_string())),
            }
        }
    }
    entries.sort_by(|(a, _), (b, _)| a.to_lowercase().cmp(&b.to_lowercase()).then_with(|| a.cmp(b)));
    Ok(entries.into_iter().map(|(key, value)| format!("{key}={value}")).collect())
}
