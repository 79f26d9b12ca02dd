//! Image sources: parsing `oci:DIR[:REF]`, `oci-archive:FILE[:REF]` and `docker-archive:FILE[:TAG]` and reading one
//! into a [`SourcePlan`] (through `layout`, `oci_archive` or `archive`), all before any network access.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::bail_input;

use super::compress::{Compression, Stop};
use super::image_plan::{ResolvedImage, SourcePlan};
use super::{docker_archive, layout, oci_archive, preflight};

/// Where the image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// An OCI image layout directory; `reference` selects an image by its `org.opencontainers.image.ref.name`
    /// annotation (or manifest digest) when the layout holds several.
    OciLayout { dir: PathBuf, reference: Option<String> },
    /// The tar of an OCI image layout (`buildx --output type=oci`, `podman save --format oci-archive`, skopeo's
    /// `oci-archive:`), read in place; `reference` selects an image as for [`ImageSource::OciLayout`].
    OciArchive { file: PathBuf, reference: Option<String> },
    /// A `docker save` tar; `reference` selects an image by one of its RepoTags when the archive holds several.
    DockerArchive { file: PathBuf, reference: Option<String> },
}

const SOURCE_FORMS: &str =
    "oci:DIR, oci:DIR:REF, oci-archive:FILE, oci-archive:FILE:REF, docker-archive:FILE or docker-archive:FILE:TAG";

impl ImageSource {
    /// Parses `oci:DIR[:REF]`, `oci-archive:FILE[:REF]` or `docker-archive:FILE[:TAG]`. The path must exist; since
    /// paths may themselves contain ':', the longest prefix that exists is the path and the rest is the reference.
    pub fn parse(spec: &str) -> anyhow::Result<ImageSource> {
        if let Some(rest) = spec.strip_prefix("oci:") {
            let (dir, reference) = existing(spec, rest, PathKind::Directory)?;
            return Ok(ImageSource::OciLayout { dir, reference });
        }
        if let Some(rest) = spec.strip_prefix("oci-archive:") {
            let (file, reference) = existing(spec, rest, PathKind::File)?;
            return Ok(ImageSource::OciArchive { file, reference });
        }
        if let Some(rest) = spec.strip_prefix("docker-archive:") {
            let (file, reference) = existing(spec, rest, PathKind::File)?;
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
            ImageSource::OciArchive { file, reference } => oci_archive::plan(file, reference.as_deref()),
            ImageSource::DockerArchive { file, reference } => {
                docker_archive::plan(file, reference.as_deref(), compression, stop)
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

/// What a source's path must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PathKind {
    Directory,
    File,
}

impl PathKind {
    fn holds(self, path: &Path) -> bool {
        match self {
            PathKind::Directory => path.is_dir(),
            PathKind::File => path.is_file(),
        }
    }
}

/// The path and reference of `rest` (`PATH` or `PATH:REF`, from `spec`), where the path must be of `kind`. A path
/// of the other kind is named in the error with the form that takes it.
fn existing(spec: &str, rest: &str, kind: PathKind) -> anyhow::Result<(PathBuf, Option<String>)> {
    if let Some(found) = split_existing(rest, |path| kind.holds(path)) {
        return Ok(found);
    }
    let (other, what) = match kind {
        PathKind::Directory => (PathKind::File, "directory"),
        PathKind::File => (PathKind::Directory, "file"),
    };
    // `PATH:` with nothing after the ':': the path is fine, the reference is what is missing.
    if let Some(path) = rest.strip_suffix(':').filter(|path| kind.holds(Path::new(path))) {
        let (form, what) = match kind {
            PathKind::Directory => ("oci:DIR:REF", "a ref.name annotation or a manifest digest of the layout"),
            PathKind::File if spec.starts_with("docker-archive:") => ("docker-archive:FILE:TAG", "one of its RepoTags"),
            PathKind::File => ("oci-archive:FILE:REF", "a ref.name annotation or a manifest digest of the archive"),
        };
        bail_input!(
            "image source '{spec}': the reference after the last ':' is empty; {form} names an image by {what}: \
             give it after the ':', or drop the ':' to take the only image in '{path}'"
        );
    }
    if let Some((path, _)) = split_existing(rest, |path| other.holds(path)) {
        let path = path.display();
        match kind {
            PathKind::Directory => bail_input!(
                "image source '{spec}': '{path}' is a file, and oci: takes a layout directory; for a tar file use \
                 oci-archive:{path} (an OCI archive) or docker-archive:{path} (docker save output)"
            ),
            PathKind::File => bail_input!(
                "image source '{spec}': '{path}' is a directory, and archives are tar files; for a layout directory \
                 use oci:{path}"
            ),
        }
    }
    bail_input!(
        "image source '{spec}': no {what} '{}' (expected {SOURCE_FORMS})",
        rest.split(':').next().unwrap_or(rest)
    )
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
            ImageSource::OciArchive { file, reference } => ("oci-archive", file, reference),
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
    fn archives_parse_with_and_without_reference() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app:v1.tar");
        std::fs::write(&file, b"").unwrap();
        let text = file.display().to_string();
        for (kind, make) in [
            ("oci-archive", (|file, reference| ImageSource::OciArchive { file, reference }) as fn(_, _) -> _),
            ("docker-archive", |file, reference| ImageSource::DockerArchive { file, reference }),
        ] {
            // The path holds ':' itself; a reference may hold one or a digest's.
            for (spec, reference) in [
                (format!("{kind}:{text}"), None),
                (format!("{kind}:{text}:v2"), Some("v2")),
                (format!("{kind}:{text}:example.com/app:v2"), Some("example.com/app:v2")),
                (format!("{kind}:{text}:sha256:ab"), Some("sha256:ab")),
            ] {
                let parsed = ImageSource::parse(&spec).unwrap();
                assert_eq!(parsed, make(file.clone(), reference.map(str::to_string)), "{spec}");
                assert_eq!(parsed.to_string(), spec, "{spec} displays as given");
            }
        }
    }

    #[test]
    fn an_empty_reference_is_named_not_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.tar");
        std::fs::write(&file, b"").unwrap();
        let (dir, file) = (dir.path().display(), file.display());
        for (spec, form) in [
            (format!("oci:{dir}:"), "oci:DIR:REF"),
            (format!("oci-archive:{file}:"), "oci-archive:FILE:REF"),
            (format!("docker-archive:{file}:"), "docker-archive:FILE:TAG"),
        ] {
            let error = ImageSource::parse(&spec).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{spec}");
            let text = error.to_string();
            assert!(text.contains(&spec) && text.contains("reference after the last ':' is empty"), "{text}");
            assert!(text.contains(form) && !text.contains("no directory") && !text.contains("no file"), "{text}");
        }
    }

    #[test]
    fn bad_sources_are_bad_input_naming_the_value_and_the_forms() {
        for spec in [
            "docker://x",
            "oci:/no/such/dir",
            "docker-archive:/no/such.tar",
            "oci-archive:/no/such.tar",
            "oci:",
            "image.tar",
        ] {
            let error = ImageSource::parse(spec).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{spec}");
            let text = error.to_string();
            assert!(text.contains(spec) && text.contains("oci:DIR:REF") && text.contains("oci-archive:FILE"), "{text}");
        }
        // A directory where a tar is expected, and a file where a layout directory is: the form that fits is named.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.tar");
        std::fs::write(&file, b"").unwrap();
        let (dir, file) = (dir.path().display(), file.display());
        for (spec, hint) in [
            (
                format!("docker-archive:{dir}"),
                format!("is a directory, and archives are tar files; for a layout directory use oci:{dir}"),
            ),
            (format!("oci-archive:{dir}:v1"), format!("'{dir}' is a directory")),
            (
                format!("oci:{file}"),
                format!("is a file, and oci: takes a layout directory; for a tar file use oci-archive:{file}"),
            ),
        ] {
            let error = ImageSource::parse(&spec).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{spec}");
            let text = error.to_string();
            assert!(text.contains(&spec) && text.contains(&hint), "{text}");
        }
    }
}
