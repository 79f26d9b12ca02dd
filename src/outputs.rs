//! Step outputs in each CI system's own format.
//!
//! One writer per destination: GitHub Actions (`$GITHUB_OUTPUT` with heredoc values under a random delimiter, a
//! Markdown job summary), CodeBuild (`export` lines for `eval`, `imagedefinitions.json`,
//! `imageDetail.json`), Jenkins (a Java properties file), GitLab (a dotenv report) and a JSON file for everything
//! else. The account id is never masked: GitHub drops every output that contains a masked value, and image URIs
//! contain the account id.
//!
//! The files a flag, an input or a config key names are checked before anything is sent ([`check_destination`]:
//! their directory exists, they are not a directory, and not a symlink unless `--follow-symlinks` says so), then
//! replaced atomically ([`write_file`]: a temporary file beside them, created exclusively with mode 0600, synced,
//! renamed into place). The CI system's own files (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`) are appended to.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::bail_input;
use crate::files::{final_target, parent_dir};

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

    /// Every tag as a full reference, once the registry is known (without it `team/app:tag` would name a
    /// Docker Hub image, which a build that pushes would push to).
    pub fn references(&self) -> Vec<String> {
        if self.registry.is_none() {
            return Vec::new();
        }
        self.tags.iter().map(|tag| format!("{}:{tag}", self.name())).collect()
    }

    /// The account id, from a registry host `<account>.dkr…`.
    fn registry_id(&self) -> Option<&str> {
        let account = self.registry.as_deref()?.split('.').next()?;
        (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
    }

    /// Outputs as (GitHub output name, environment variable name, value); absent values are left out. Without a
    /// registry (a dry `tags` run that cannot name it) nothing names an image: no `image-uri`, no `image-refs`.
    pub fn fields(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut fields = Vec::new();
        if self.registry.is_some() {
            fields.push(("image-uri", "IMAGE_URI", self.image_uri()));
        }
        if let Some(uri) = self.image_uri_digest().filter(|_| self.registry.is_some()) {
            fields.push(("image-uri-digest", "IMAGE_URI_DIGEST", uri));
        }
        if let Some(digest) = &self.digest {
            fields.push(("digest", "IMAGE_DIGEST", digest.clone()));
        }
        fields.push(("tags", "IMAGE_TAGS", self.tags.join("\n")));
        if self.registry.is_some() && !self.tags.is_empty() {
            fields.push(("image-refs", "IMAGE_REFS", self.references().join("\n")));
        }
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
            "image_uri": self.registry.as_ref().map(|_| self.image_uri()),
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
    /// `--follow-symlinks`: write a named output file that is a symlink to the file it points at.
    pub follow_symlinks: bool,
}

/// Writes every file output requested. `dir` is where relative paths and the CodePipeline files go.
pub fn write_files(outputs: &ImageOutputs, targets: &OutputTargets, title: &str, dir: &Path) -> anyhow::Result<()> {
    let follow = targets.follow_symlinks;
    if let Some(path) = &targets.github_output {
        append(path, &github_output(outputs)?)
            .with_context(|| format!("writing GITHUB_OUTPUT '{}'", path.display()))?;
    }
    if let Some(path) = &targets.github_summary {
        append(path, &summary(outputs, title))
            .with_context(|| format!("writing GITHUB_STEP_SUMMARY '{}'", path.display()))?;
    }
    // A deploy file names an image to deploy: never one without its registry (`tags` warns that it skips them).
    let deployable = outputs.registry.is_some();
    if let Some(container) = targets.image_definitions.as_ref().filter(|_| deployable) {
        let path = dir.join(targets.image_definitions_file.as_deref().unwrap_or(Path::new(IMAGE_DEFINITIONS)));
        write_json(&path, &json!([{ "name": container, "imageUri": outputs.image_uri() }]), follow)?;
    }
    if targets.image_detail && deployable {
        write_json(&dir.join(IMAGE_DETAIL), &image_detail(outputs), follow)?;
    }
    if let Some(path) = &targets.properties_file {
        write_text(&dir.join(path), &properties(outputs), follow)?;
    }
    if let Some(path) = &targets.dotenv_file {
        write_text(&dir.join(path), &dotenv(outputs), follow)?;
    }
    if let Some(path) = &targets.json_file {
        write_json(&dir.join(path), &outputs.to_json(), follow)?;
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
    let properties_lines = lines(&|_, key, value| format!("{key}={}\n", properties_value(value)));
    let dotenv_lines = lines(&|_, key, value| format!("{key}={value}\n"));
    for (path, added) in [(&targets.properties_file, properties_lines), (&targets.dotenv_file, dotenv_lines)] {
        let Some(path) = path else { continue };
        // Rewritten whole (atomically, never through a symlink), not appended to in place.
        let path = dir.join(path);
        let mut text = read_existing(&path, targets.follow_symlinks)?.unwrap_or_default();
        text.push_str(&added);
        write_text(&path, &text, targets.follow_symlinks)?;
    }
    if let Some(path) = &targets.json_file {
        let path = dir.join(path);
        let existing = read_existing(&path, targets.follow_symlinks)?;
        let mut document = existing.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_else(|| json!({}));
        if !document.is_object() {
            document = json!({});
        }
        document[json.0] = json.1.clone();
        write_json(&path, &document, targets.follow_symlinks)?;
    }
    Ok(())
}

/// Writes a result that is not an image's (`prune`'s: counts, digests, bytes) to every output a run names:
/// `$GITHUB_OUTPUT` (multi-line values as heredocs), the Jenkins properties and dotenv files (multi-line values
/// joined with ','), and the JSON file (`json`); the files are replaced whole, as [`write_files`] replaces an
/// image's. The job summary is the caller's ([`append_summary`]).
pub fn write_fields(
    fields: &[(&'static str, &'static str, String)],
    json: &serde_json::Value,
    targets: &OutputTargets,
    dir: &Path,
) -> anyhow::Result<()> {
    let follow = targets.follow_symlinks;
    if let Some(path) = &targets.github_output {
        append(path, &github_output_fields(fields)?)
            .with_context(|| format!("writing GITHUB_OUTPUT '{}'", path.display()))?;
    }
    let joined = |value: &str| value.replace('\n', ",");
    if let Some(path) = &targets.properties_file {
        let text: String =
            fields.iter().map(|(_, key, value)| format!("{key}={}\n", properties_value(&joined(value)))).collect();
        write_text(&dir.join(path), &text, follow)?;
    }
    if let Some(path) = &targets.dotenv_file {
        let text: String = fields.iter().map(|(_, key, value)| format!("{key}={}\n", joined(value))).collect();
        write_text(&dir.join(path), &text, follow)?;
    }
    if let Some(path) = &targets.json_file {
        write_json(&dir.join(path), json, follow)?;
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

/// Appends to a file of the CI system's own (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`), as its runner expects.
fn append(path: &Path, text: &str) -> std::io::Result<()> {
    OpenOptions::new().create(true).append(true).open(path)?.write_all(text.as_bytes())
}

fn write_text(path: &Path, text: &str, follow_symlinks: bool) -> anyhow::Result<()> {
    write_file(path, text.as_bytes(), follow_symlinks)
}

fn write_json(path: &Path, value: &serde_json::Value, follow_symlinks: bool) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("serialising outputs")?;
    text.push('\n');
    write_text(path, &text, follow_symlinks)
}

/// The default names of the CodePipeline files, written in the working directory.
pub const IMAGE_DEFINITIONS: &str = "imagedefinitions.json";
pub const IMAGE_DETAIL: &str = "imageDetail.json";

/// Checks, offline, an output file a flag, an input or a config key names (`given`, relative to `cwd`; `origin`
/// says where it was named, for the message): its directory exists, it is not a directory, and it is not a symlink
/// unless `follow_symlinks` (then the file the link finally names must pass the same checks). Any failure is bad
/// input: exit 2, nothing sent yet.
pub fn check_destination(cwd: &Path, given: &Path, origin: &str, follow_symlinks: bool) -> anyhow::Result<()> {
    let path = &cwd.join(given);
    // The message names the path as it was given; a directory relative to the working directory alike.
    let shown = |p: &Path| crate::error::shown(&p.strip_prefix(cwd).unwrap_or(p).display().to_string());
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            if !follow_symlinks {
                bail_input!(
                    "{origin} '{}' is a symlink, and ecr-ship does not write output files through symlinks (one in a \
                     checkout could point at any file this user may write): remove it, name another path, or pass \
                     --follow-symlinks to write to the file it points at",
                    shown(path)
                );
            }
            final_target(path).map_err(|e| crate::error::bad_input(format!("{origin} '{}': {e}", shown(path))))?
        }
        _ => path.to_path_buf(),
    };
    match std::fs::metadata(&target) {
        Ok(meta) if meta.is_dir() => bail_input!("{origin} '{}' is a directory; name a file in it", shown(path)),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = parent_dir(&target);
            match std::fs::metadata(parent) {
                Ok(meta) if meta.is_dir() => Ok(()),
                Ok(_) => bail_input!("{origin} '{}': '{}' is not a directory", shown(path), shown(parent)),
                Err(_) => bail_input!(
                    "{origin} '{}': the directory '{}' does not exist; create it first, or name a file in an \
                     existing directory",
                    shown(path),
                    shown(parent)
                ),
            }
        }
        Err(e) => bail_input!("{origin} '{}' cannot be checked: {e}", shown(path)),
    }
}

/// Replaces the file at `path` with `bytes` atomically: a temporary file in the same directory (random name,
/// created exclusively with mode 0600, so nothing planted there is followed), written, given its final mode (the
/// replaced file's, or 0644 for a new one: these files are for the next build step, not secrets), synced, and
/// renamed over `path`; readers see the old file or the new one, never half of one. A symlink at `path` is refused
/// unless `follow_symlinks`, which replaces the file it finally names (the link stays). A device or pipe there
/// (`/dev/stdout` through `--follow-symlinks`) is written in place, as it cannot be replaced.
pub fn write_file(path: &Path, bytes: &[u8], follow_symlinks: bool) -> anyhow::Result<()> {
    let failed = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot write '{}': {e}", path.display());
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() && !follow_symlinks => {
            return Err(failed(
                &"it is a symlink, and output files are not written through one without --follow-symlinks",
            ));
        }
        Ok(meta) if meta.file_type().is_symlink() => final_target(path).map_err(|e| failed(&e))?,
        _ => path.to_path_buf(),
    };
    let existing = std::fs::metadata(&target).ok();
    if let Some(meta) = &existing
        && !meta.is_file()
    {
        return OpenOptions::new()
            .write(true)
            .open(&target)
            .and_then(|mut file| file.write_all(bytes))
            .map_err(|e| failed(&e));
    }
    let dir = parent_dir(&target);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (temporary, mut file) = crate::files::create_sibling(dir, &name).map_err(|e| failed(&e))?;
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(existing.map_or(0o644, |meta| meta.permissions().mode() & 0o7777))
    };
    #[cfg(not(unix))]
    let mode = existing.map_or_else(|| file.metadata().map(|m| m.permissions()), |meta| Ok(meta.permissions()));
    let result = file
        .write_all(bytes)
        .and_then(|()| {
            #[cfg(not(unix))]
            let mode = mode?;
            file.set_permissions(mode)
        })
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, &target));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(failed(&e));
    }
    // Make the rename itself durable; a directory that cannot be opened or synced (some filesystems) is no error.
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}

/// The text of an output file already written this run (to append to it); `None` when there is none. A symlink is
/// read only with `follow_symlinks`; the file opened is checked to be the one the name holds, so a link swapped in
/// after the check is not followed either.
fn read_existing(path: &Path, follow_symlinks: bool) -> anyhow::Result<Option<String>> {
    let failed = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot read '{}' to add to it: {e}", path.display());
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(failed(&e)),
    };
    if !follow_symlinks {
        let named = std::fs::symlink_metadata(path).map_err(|e| failed(&e))?;
        let opened = file.metadata().map_err(|e| failed(&e))?;
        if named.file_type().is_symlink() || !same_file(&named, &opened) {
            return Err(failed(
                &"it is a symlink, and output files are not written through one without --follow-symlinks",
            ));
        }
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text).map_err(|e| failed(&e))?;
    Ok(Some(text))
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// The `$GITHUB_OUTPUT` text: `name=value` for single lines, the heredoc form with a fresh random delimiter for
/// multi-line values (as actions/toolkit does; a fixed delimiter could be forged by a value).
pub fn github_output(outputs: &ImageOutputs) -> anyhow::Result<String> {
    github_output_fields(&outputs.fields())
}

/// The `$GITHUB_OUTPUT` text of any fields, as [`github_output`] writes an image's.
fn github_output_fields(fields: &[(&'static str, &'static str, String)]) -> anyhow::Result<String> {
    let mut text = String::new();
    for (name, _, value) in fields {
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
    env_style(outputs).into_iter().map(|(key, value)| format!("{key}={}\n", properties_value(&value))).collect()
}

/// A value escaped as `java.util.Properties.load` reads it back exactly: `\\`, the line terminators `\n` and `\r`,
/// `\t` and `\f`, a leading space as `\ ` (load drops leading whitespace), and every other character outside
/// printable ASCII as `\uXXXX` (UTF-16 units; the format's text is ISO 8859-1), as `Properties.store` writes them.
/// `=`, `:`, `#` and `!` need no escape in a value (only in a key, or at the start of a line), so image URIs stay
/// readable.
fn properties_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for (index, c) in value.chars().enumerate() {
        match c {
            '\\' => escaped.push_str(r"\\"),
            '\n' => escaped.push_str(r"\n"),
            '\r' => escaped.push_str(r"\r"),
            '\t' => escaped.push_str(r"\t"),
            '\u{c}' => escaped.push_str(r"\f"),
            ' ' if index == 0 => escaped.push_str(r"\ "),
            ' '..='~' => escaped.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    escaped.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
    escaped
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
    fn full_references_one_per_line_only_with_a_registry() {
        let outputs = sample();
        let refs = "012345678901.dkr.ecr.eu-west-1.amazonaws.com/team/app:sha-0123456\n\
                    012345678901.dkr.ecr.eu-west-1.amazonaws.com/team/app:main";
        assert!(outputs.fields().contains(&("image-refs", "IMAGE_REFS", refs.to_string())));
        assert!(github_output(&outputs).unwrap().contains(&format!("{refs}\n")));
        assert!(export_lines(&outputs).contains(&format!("export IMAGE_REFS='{}'\n", refs.replace('\n', ","))));
        assert!(properties(&outputs).contains(&format!("IMAGE_REFS={}\n", refs.replace('\n', ","))));
        assert!(dotenv(&outputs).contains(&format!("IMAGE_REFS={}\n", refs.replace('\n', ","))));
        assert_eq!(outputs.to_json()["references"][1], "012345678901.dkr.ecr.eu-west-1.amazonaws.com/team/app:main");

        // A dry plan that cannot name the registry names no image at all, and writes no deploy file.
        let planned = ImageOutputs { registry: None, digest: None, tag_mutability: None, ..sample() };
        let names: Vec<&str> = planned.fields().iter().map(|(name, _, _)| *name).collect();
        assert_eq!(names, ["tags", "repository"]);
        assert_eq!(planned.to_json()["image_uri"], serde_json::Value::Null);
        assert_eq!(planned.to_json()["references"], json!([]));
        let dir = tempfile::tempdir().unwrap();
        let targets =
            OutputTargets { image_definitions: Some("web".into()), image_detail: true, ..OutputTargets::default() };
        write_files(&planned, &targets, "planned tags", dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no deploy file without a registry");
        write_files(&sample(), &targets, "planned tags", dir.path()).unwrap();
        assert!(dir.path().join(IMAGE_DEFINITIONS).exists() && dir.path().join(IMAGE_DETAIL).exists());
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
    fn properties_values_are_escaped_as_java_reads_them() {
        assert_eq!(properties_value("a\rb\nc\\d\te\u{c}f"), r"a\rb\nc\\d\te\ff");
        assert_eq!(properties_value(" leading"), r"\ leading");
        assert_eq!(properties_value("x=y:z #!"), "x=y:z #!", "no escape needed in a value");
        assert_eq!(properties_value("é😀\u{1b}"), r"\u00E9\uD83D\uDE00\u001B");
        let outputs = ImageOutputs { labels: vec!["org.opencontainers.image.title=a\rb".into()], ..sample() };
        let text = properties(&outputs);
        assert!(text.contains("IMAGE_LABELS=org.opencontainers.image.title=a\\rb\n"), "{text}");
        assert!(!text.contains('\r'), "{text:?}");
    }

    #[test]
    fn appended_files_are_rewritten_whole_and_never_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let targets = OutputTargets {
            properties_file: Some("ship.properties".into()),
            dotenv_file: Some("ship.env".into()),
            ..OutputTargets::default()
        };
        write_files(&sample(), &targets, "pushed", dir.path()).unwrap();
        // A link planted after the image outputs were written: appending must not follow it.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        std::fs::remove_file(dir.path().join("ship.env")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("ship.env")).unwrap();
        let fields = [("scan-critical", "SCAN_CRITICAL", "2".to_string())];
        let error = append_fields(&fields, ("scan", &json!({})), &targets, dir.path()).unwrap_err();
        assert!(format!("{error:#}").contains("symlink"), "{error:#}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
        assert!(std::fs::read_to_string(dir.path().join("ship.properties")).unwrap().ends_with("SCAN_CRITICAL=2\n"));
        let followed = OutputTargets { follow_symlinks: true, ..targets };
        append_fields(&fields, ("scan", &json!({})), &followed, dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\nSCAN_CRITICAL=2\n");
        assert!(std::fs::symlink_metadata(dir.path().join("ship.env")).unwrap().file_type().is_symlink());
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
