//! Image sources: parsing `oci:DIR[:REF]` / `docker-archive:FILE[:TAG]` and reading one into a [`SourcePlan`]
//! (through `layout` or `archive`), all before any network access.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::bail_input;

use super::compress::{Compression, Stop};
use super::plan::{ResolvedImage, SourcePlan};
use super::{archive, layout, preflight};

/// Where the image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// An OCI image layout directory; `reference` selects an image by its `org.opencontainers.image.ref.name`
    /// annotation (or manifest digest) when the layout holds several.
    OciLayout { dir: PathBuf, reference: Option<String> },
    /// A `docker save` tar; `reference` selects an image by one of its RepoTags when the archive holds several.
    DockerArchive { file: PathBuf, reference: Option<String> },
}

const SOURCE_FORMS: &str = "oci:DIR, oci:DIR:REF, docker-archive:FILE or docker-archive:FILE:TAG";

impl ImageSource {
    /// Parses `oci:DIR[:REF]` or `docker-archive:FILE[:TAG]`. The path must exist; since paths may themselves
    /// contain ':', the longest prefix that exists is the path and the rest is the reference.
    pub fn parse(spec: &str) -> anyhow::Result<ImageSource> {
        if let Some(rest) = spec.strip_prefix("oci:") {
            let (dir, reference) = split_existing(rest, Path::is_dir).ok_or_else(|| {
                crate::error::bad_input(format!(
                    "image source '{spec}': no directory '{}' (expected {SOURCE_FORMS})",
                    rest.split(':').next().unwrap_or(rest)
                ))
            })?;
            return Ok(ImageSource::OciLayout { dir, reference });
        }
        if let Some(rest) = spec.strip_prefix("docker-archive:") {
            let (file, reference) = split_existing(rest, Path::is_file).ok_or_else(|| {
                crate::error::bad_input(format!(
                    "image source '{spec}': no file '{}' (expected {SOURCE_FORMS})",
                    rest.split(':').next().unwrap_or(rest)
                ))
            })?;
            return Ok(ImageSource::DockerArchive { file, reference });
        }
        bail_input!("unsupported image source '{spec}': expected {SOURCE_FORMS}")
    }

    /// Reads the source into the plan a push follows, without any network access. The summary says what would
    /// be pushed (for dry runs and "is this digest already tagged" checks); [`push`](crate::oci::push()) then pushes exactly this plan,
    /// so the source is read once and what was judged is what is sent. The source is pushed as it is (a docker
    /// archive's uncompressed layers too); [`plan_with`](Self::plan_with) compresses them.
    pub fn plan(&self) -> anyhow::Result<SourcePlan> {
        self.plan_with(Compression::None, &Stop::default())
    }

    /// As [`plan`](Self::plan), with a docker archive's uncompressed layers compressed as `compression` says
    /// (OCI layouts are always pushed unchanged); `stop` makes a running compression give up.
    pub fn plan_with(&self, compression: Compression, stop: &Stop) -> anyhow::Result<SourcePlan> {
        let plan = match self {
            ImageSource::OciLayout { dir, reference } => layout::plan(dir, reference.as_deref()),
            ImageSource::DockerArchive { file, reference } => {
                archive::plan(file, reference.as_deref(), compression, stop)
            }
        }?;
        preflight::check(&plan)?;
        let summary = ResolvedImage {
            digest: plan.top.digest.clone(),
            media_type: plan.top.media_type.clone(),
            manifest: plan.top.bytes.clone(),
            blobs: plan.blobs.len(),
            bytes: plan.blobs.iter().map(|b| b.size).sum(),
        };
        Ok(SourcePlan::new(plan, summary))
    }
}

impl ImageSource {
    /// [`plan_with`](Self::plan_with) on a blocking thread, so the command's time limit and SIGINT/SIGTERM still
    /// bound a long compression: when the returned future is dropped, the compression stops within one chunk and
    /// removes its temporary files as its thread ends (the runtime waits for that thread before the process exits).
    pub async fn plan_in_background(&self, compression: Compression) -> anyhow::Result<SourcePlan> {
        let source = self.clone();
        let stop = Stop::default();
        let _stop_when_dropped = stop.on_drop();
        tokio::task::spawn_blocking(move || source.plan_with(compression, &stop))
            .await
            .map_err(|error| anyhow::anyhow!("reading the image source {self} stopped unexpectedly: {error}"))?
    }
}

/// `rest` is `PATH` or `PATH:REF`; the split point is the first one whose path part exists.
fn split_existing(rest: &str, exists: impl Fn(&Path) -> bool) -> Option<(PathBuf, Option<String>)> {
    if rest.is_empty() {
        return None;
    }
    if exists(Path::new(rest)) {
        return Some((PathBuf::from(rest), None));
    }
    rest.match_indices(':').find_map(|(at, _)| {
        let (path, reference) = (&rest[..at], &rest[at + 1..]);
        (!path.is_empty() && !reference.is_empty() && exists(Path::new(path)))
            .then(|| (PathBuf::from(path), Some(reference.to_string())))
    })
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, path, reference) = match self {
            ImageSource::OciLayout { dir, reference } => ("oci", dir, reference),
            ImageSource::DockerArchive { file, reference } => ("docker-archive", file, reference),
        };
        write!(f, "{kind}:{}", path.display())?;
        match reference {
            Some(reference) => write!(f, ":{reference}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EXIT_BAD_INPUT, exit_code};

    #[test]
    fn sources_parse_with_and_without_reference() {
        let dir = std::env::temp_dir();
        let text = dir.display().to_string();
        assert_eq!(
            ImageSource::parse(&format!("oci:{text}")).unwrap(),
            ImageSource::OciLayout { dir: dir.clone(), reference: None }
        );
        assert_eq!(
            ImageSource::parse(&format!("oci:{text}:v1.2")).unwrap(),
            ImageSource::OciLayout { dir: dir.clone(), reference: Some("v1.2".into()) }
        );
        // A reference may itself hold ':' (a full image name); the path is the part that exists.
        assert_eq!(
            ImageSource::parse(&format!("oci:{text}:example.com/app:v1")).unwrap(),
            ImageSource::OciLayout { dir: dir.clone(), reference: Some("example.com/app:v1".into()) }
        );
    }

    #[test]
    fn bad_sources_are_bad_input_naming_the_value_and_the_forms() {
        for spec in ["docker://x", "oci:/no/such/dir", "docker-archive:/no/such.tar", "oci:", "image.tar"] {
            let error = ImageSource::parse(spec).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{spec}");
            let text = error.to_string();
            assert!(text.contains(spec) && text.contains("oci:DIR:REF"), "{text}");
        }
        let dir = std::env::temp_dir().display().to_string();
        assert!(ImageSource::parse(&format!("docker-archive:{dir}")).is_err(), "a directory is not an archive");
    }
}
