//! Step outputs in each CI system's own format.
//!
//! One writer per destination: GitHub Actions (`$GITHUB_OUTPUT` with heredoc values under a random delimiter, a
//! Markdown job summary), CodeBuild (`export` lines for `eval`, `imagedefinitions.json`,
//! `imageDetail.json`), Jenkins (a Java properties file), GitLab (a dotenv report) and a JSON file for everything
//! else. The account id is never masked: GitHub drops every output that contains a masked value, and image URIs
//! contain the account id.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

/// The level annotations are written at, as metadata-action does by default.
const ANNOTATION_LEVEL: &str = "manifest";

/// What a run produced, from which every output is derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOutputs {
    /// Registry host, when known (a dry `tags` run without `--registry` has none).
    pub registry: Option<String>,
    pub repository: String,
    /// Planned or pushed tags; the first is the primary one used in `image-uri`.
    pub tags: Vec<String>,
    pub digest: Option<String>,
    pub tag_mutability: Option<String>,
    /// OCI labels as `key=value` lines, for `docker build --label` and build-push-action's `labels:`.
    pub labels: Vec<String>,
    /// Annotations as `key=value` lines; the outputs write them at their level (`manifest:key=value`), as
    /// `--annotation` and build-push-action's `annotations:` take them.
    pub annotations: Vec<String>,
}

impl ImageOutputs {
    fn name(&self) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// `registry/repository:primary-tag`; with no tag (a by-digest push), the digest reference.
    pub fn image_uri(&self) -> String {
        match self.tags.first() {
            Some(tag) => format!("{}:{tag}", self.name()),
            None => self.image_uri_digest().unwrap_or_else(|| self.name()),
        }
    }

    /// `registry/repository@sha256:…`, once the digest is known.
    pub fn image_uri_digest(&self) -> Option<String> {
        self.digest.as_ref().map(|digest| format!("{}@{digest}", self.name()))
    }

    /// Every tag as a full reference.
    pub fn references(&self) -> Vec<String> {
        self.tags.iter().map(|tag| format!("{}:{tag}", self.name())).collect()
    }

    /// The account id, from a registry host `<account>.dkr…`.
    fn registry_id(&self) -> Option<&str> {
        let account = self.registry.as_deref()?.split('.').next()?;
        (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
    }

    /// Outputs as (GitHub output name, environment variable name, value); absent values are left out.
    pub fn fields(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut fields = vec![("image-uri", "IMAGE_URI", self.image_uri())];
        if let Some(uri) = self.image_uri_digest() {
            fields.push(("image-uri-digest", "IMAGE_URI_DIGEST", uri));
        }
        if let Some(digest) = &self.digest {
            fields.push(("digest", "IMAGE_DIGEST", digest.clone()));
        }
        fields.push(("tags", "IMAGE_TAGS", self.tags.join("\n")));
        if let Some(registry) = &self.registry {
            fields.push(("registry", "IMAGE_REGISTRY", registry.clone()));
        }
        fields.push(("repository", "IMAGE_REPOSITORY", self.repository.clone()));
        if let Some(mutability) = &self.tag_mutability {
            fields.push(("tag-mutability", "IMAGE_TAG_MUTABILITY", mutability.clone()));
        }
        if !self.labels.is_empty() {
            fields.push(("labels", "IMAGE_LABELS", self.labels.join("\n")));
        }
        if !self.annotations.is_empty() {
            fields.push(("annotations", "IMAGE_ANNOTATIONS", self.leveled_annotations().join("\n")));
        }
        fields
    }

    /// The JSON form used by `--json` and `--output-json`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "image_uri": self.image_uri(),
            "image_uri_digest": self.image_uri_digest(),
            "digest": self.digest,
            "tags": self.tags,
            "references": self.references(),
            "registry": self.registry,
            "repository": self.repository,
            "tag_mutability": self.tag_mutability,
            "labels": label_map(&self.labels),
            "annotations": self.leveled_annotations(),
        })
    }

    /// The annotations at metadata-action's default level (DOCKER_METADATA_ANNOTATIONS_LEVELS=manifest).
    pub fn leveled_annotations(&self) -> Vec<String> {
        self.annotations.iter().map(|annotation| format!("{ANNOTATION_LEVEL}:{annotation}")).collect()
    }
}

/// `key=value` lines as a JSON object, as metadata-action's `json` output gives its labels.
fn label_map(lines: &[String]) -> serde_json::Map<String, serde_json::Value> {
    lines.iter().filter_map(|line| line.split_once('=')).map(|(key, value)| (key.to_string(), json!(value))).collect()
}

/// Where outputs go, resolved from flags and the CI environment.
#[derive(Debug, Clone, Default)]
pub struct OutputTargets {
    /// `$GITHUB_OUTPUT` when running in GitHub Actions.
    pub github_output: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY` when running in GitHub Actions.
    pub github_summary: Option<PathBuf>,
    /// Container name for `imagedefinitions.json` (CodePipeline ECS standard deploy).
    pub image_definitions: Option<String>,
    pub image_definitions_file: Option<PathBuf>,
    /// Write `imageDetail.json` (CodePipeline ECS blue/green deploy).
    pub image_detail: bool,
    pub properties_file: Option<PathBuf>,
    pub dotenv_file: Option<PathBuf>,
    pub json_file: Option<PathBuf>,
}

/// Writes every file output requested. `dir` is where relative paths and the CodePipeline files go.
pub fn write_files(outputs: &ImageOutputs, targets: &OutputTargets, title: &str, dir: &Path) -> anyhow::Result<()> {
    if let Some(path) = &targets.github_output {
        append(path, &github_output(outputs)?)
            .with_context(|| format!("writing GITHUB_OUTPUT '{}'", path.display()))?;
    }
    if let Some(path) = &targets.github_summary {
        append(path, &summary(outputs, title))
            .with_context(|| format!("writing GITHUB_STEP_SUMMARY '{}'", path.display()))?;
    }
    if let Some(container) = &targets.image_definitions {
        let path = dir.join(targets.image_definitions_file.as_deref().unwrap_or(Path::new("imagedefinitions.json")));
        write_json(&path, &json!([{ "name": container, "imageUri": outputs.image_uri() }]))?;
    }
    if targets.image_detail {
        write_json(&dir.join("imageDetail.json"), &image_detail(outputs))?;
    }
    if let Some(path) = &targets.properties_file {
        write_new(&dir.join(path), &properties(outputs))?;
    }
    if let Some(path) = &targets.dotenv_file {
        write_new(&dir.join(path), &dotenv(outputs))?;
    }
    if let Some(path) = &targets.json_file {
        write_json(&dir.join(path), &outputs.to_json())?;
    }
    Ok(())
}

/// Extra outputs that follow an image's (the vulnerability gate's counts, `SCAN_CRITICAL=…`), as (GitHub output
/// name, variable name, value) with single-line values: appended to `$GITHUB_OUTPUT`, the properties file (Jenkins)
/// and the dotenv file, and to the JSON file under `key`. `--export` lines for CodeBuild are [`export_fields`].
pub fn append_fields(
    fields: &[(&'static str, &'static str, String)],
    json: (&str, &serde_json::Value),
    targets: &OutputTargets,
    dir: &Path,
) -> anyhow::Result<()> {
    let lines = |f: &dyn Fn(&str, &str, &str) -> String| -> String {
        fields.iter().map(|(name, key, value)| f(name, key, value)).collect()
    };
    if let Some(path) = &targets.github_output {
        append(path, &lines(&|name, _, value| format!("{name}={value}\n")))
            .with_context(|| format!("writing GITHUB_OUTPUT '{}'", path.display()))?;
    }
    for path in [&targets.properties_file, &targets.dotenv_file].into_iter().flatten() {
        let path = dir.join(path);
        append(&path, &lines(&|_, key, value| format!("{key}={value}\n")))
            .with_context(|| format!("writing '{}'", path.display()))?;
    }
    if let Some(path) = &targets.json_file {
        let path = dir.join(path);
        let mut document = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|_| json!({})),
            Err(_) => json!({}),
        };
        if !document.is_object() {
            document = json!({});
        }
        document[json.0] = json.1.clone();
        write_json(&path, &document)?;
    }
    Ok(())
}

/// `export NAME='value'` lines of extra outputs, for `eval` in a CodeBuild buildspec.
pub fn export_fields(fields: &[(&'static str, &'static str, String)]) -> String {
    fields.iter().map(|(_, key, value)| format!("export {key}={}\n", shell_quote(value))).collect()
}

/// Appends a Markdown section to `$GITHUB_STEP_SUMMARY`, when running in GitHub Actions.
pub fn append_summary(markdown: &str, targets: &OutputTargets) -> anyhow::Result<()> {
    match &targets.github_summary {
        Some(path) => {
            append(path, markdown).with_context(|| format!("writing GITHUB_STEP_SUMMARY '{}'", path.display()))
        }
        None => Ok(()),
    }
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    OpenOptions::new().create(true).append(true).open(path)?.write_all(text.as_bytes())
}

fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing '{}'", path.display()))
}

fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("serialising outputs")?;
    text.push('\n');
    write_new(path, &text)
}

/// The `$GITHUB_OUTPUT` text: `name=value` for single lines, the heredoc form with a fresh random delimiter for
/// multi-line values (as actions/toolkit does; a fixed delimiter could be forged by a value).
pub fn github_output(outputs: &ImageOutputs) -> anyhow::Result<String> {
    let mut text = String::new();
    for (name, _, value) in outputs.fields() {
        if value.contains('\n') || value.contains('\r') {
            let delimiter = random_delimiter()?;
            text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        } else {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    Ok(text)
}

fn random_delimiter() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the GITHUB_OUTPUT delimiter: {e}"))?;
    Ok(format!("ghadelimiter_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// The Markdown job summary.
pub fn summary(outputs: &ImageOutputs, title: &str) -> String {
    let mut text = format!("### ecr-ship: {title}\n\n| Output | Value |\n| --- | --- |\n");
    for (name, _, value) in outputs.fields() {
        let shown = value.split('\n').map(|v| format!("`{v}`")).collect::<Vec<_>>().join("<br>");
        text.push_str(&format!("| {name} | {shown} |\n"));
    }
    text.push('\n');
    text
}

/// `export NAME='value'` lines for `eval "$(ecr-ship … --export)"` in a CodeBuild buildspec (a child process
/// cannot set the build's exported-variables itself).
pub fn export_lines(outputs: &ImageOutputs) -> String {
    env_style(outputs).into_iter().map(|(key, value)| format!("export {key}={}\n", shell_quote(&value))).collect()
}

/// Values for KEY=value formats: tags joined with ','; labels and annotations keep one per line (their values
/// may hold commas).
fn env_style(outputs: &ImageOutputs) -> Vec<(&'static str, String)> {
    outputs
        .fields()
        .into_iter()
        .map(|(name, key, value)| match name {
            "labels" | "annotations" => (key, value),
            _ => (key, value.replace('\n', ",")),
        })
        .collect()
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// A Java properties file for Jenkins' `readProperties`.
pub fn properties(outputs: &ImageOutputs) -> String {
    env_style(outputs)
        .into_iter()
        .map(|(key, value)| {
            let escaped = value.replace('\\', r"\\").replace('\n', r"\n");
            format!("{key}={escaped}\n")
        })
        .collect()
}

/// A GitLab dotenv report: `KEY=value`, no quotes, no spaces or newlines (every value here is a reference, a
/// digest or comma-joined tags, which have none).
pub fn dotenv(outputs: &ImageOutputs) -> String {
    // A dotenv report has no multi-line values: labels and annotations are left out of it.
    env_style(outputs)
        .into_iter()
        .filter(|(key, _)| !matches!(*key, "IMAGE_LABELS" | "IMAGE_ANNOTATIONS"))
        .map(|(key, value)| format!("{key}={value}\n"))
        .collect()
}

/// `imageDetail.json` in the richer form an ECR source action writes; the URI is digest-pinned when known.
pub fn image_detail(outputs: &ImageOutputs) -> serde_json::Value {
    let mut detail = serde_json::Map::new();
    detail.insert("ImageURI".into(), json!(outputs.image_uri_digest().unwrap_or_else(|| outputs.image_uri())));
    if let Some(digest) = &outputs.digest {
        detail.insert("ImageDigest".into(), json!(digest));
    }
    detail.insert("ImageTags".into(), json!(outputs.tags));
    if let Some(account) = outputs.registry_id() {
        detail.insert("RegistryId".into(), json!(account));
    }
    detail.insert("RepositoryName".into(), json!(outputs.repository));
    serde_json::Value::Object(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ImageOutputs {
        ImageOutputs {
            registry: Some("012345678901.dkr.ecr.eu-west-1.amazonaws.com".into()),
            repository: "team/app".into(),
            tags: vec!["sha-0123456".into(), "main".into()],
            digest: Some(format!("sha256:{}", "ab".repeat(32))),
            tag_mutability: Some("IMMUTABLE".into()),
            labels: Vec::new(),
            annotations: Vec::new(),
        }
    }

    #[test]
    fn uris() {
        let outputs = sample();
        assert_eq!(outputs.image_uri(), "012345678901.dkr.ecr.eu-west-1.amazonaws.com/team/app:sha-0123456");
        assert!(
            outputs
                .image_uri_digest()
                .unwrap()
                .ends_with("/team/app@sha256:abababababababababababababababababababababababababababababababab")
        );
        assert_eq!(outputs.registry_id(), Some("012345678901"));
    }

    #[test]
    fn github_output_uses_fresh_delimiters_for_multi_line_values() {
        let first = github_output(&sample()).unwrap();
        let second = github_output(&sample()).unwrap();
        assert!(first.contains("image-uri=012345678901.dkr.ecr.eu-west-1.amazonaws.com/team/app:sha-0123456\n"));
        let delimiter = first.split("tags<<").nth(1).unwrap().lines().next().unwrap();
        assert!(delimiter.starts_with("ghadelimiter_") && delimiter.len() == 13 + 32);
        assert!(first.contains(&format!("tags<<{delimiter}\nsha-0123456\nmain\n{delimiter}\n")));
        assert!(!second.contains(delimiter));
    }

    #[test]
    fn env_formats() {
        let exports = export_lines(&sample());
        assert!(exports.contains("export IMAGE_TAGS='sha-0123456,main'\n"));
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert!(dotenv(&sample()).contains("IMAGE_REPOSITORY=team/app\n"));
        assert!(properties(&sample()).contains("IMAGE_TAG_MUTABILITY=IMMUTABLE\n"));
    }

    #[test]
    fn extra_fields_are_appended_after_the_image_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let targets = OutputTargets {
            github_output: Some(dir.path().join("gh")),
            properties_file: Some("ship.properties".into()),
            json_file: Some("out.json".into()),
            ..OutputTargets::default()
        };
        write_files(&sample(), &targets, "pushed", dir.path()).unwrap();
        let fields = [("scan-critical", "SCAN_CRITICAL", "2".to_string())];
        append_fields(&fields, ("scan", &json!({"result": "failed"})), &targets, dir.path()).unwrap();
        let properties = std::fs::read_to_string(dir.path().join("ship.properties")).unwrap();
        assert!(properties.contains("IMAGE_REPOSITORY=team/app\n") && properties.ends_with("SCAN_CRITICAL=2\n"));
        assert!(std::fs::read_to_string(dir.path().join("gh")).unwrap().ends_with("scan-critical=2\n"));
        let document: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("out.json")).unwrap()).unwrap();
        assert_eq!(
            (document["repository"].as_str(), document["scan"]["result"].as_str()),
            (Some("team/app"), Some("failed"))
        );
        assert_eq!(export_fields(&fields), "export SCAN_CRITICAL='2'\n");
    }
}
