//! The container-engine adapter: everything ecr-ship does through the `docker` or `podman` command line, and in
//! the credential store those engines read.
//!
//! This module owns the [`Engine`] type and the public names of the adapter; the work is split by concern:
//! [`detect`] chooses the engine, [`verbs`] holds the docker/podman verbs (login, logout and the local image steps
//! of a push), [`credstore`] writes a login's credential into the engine's store and saves and restores the
//! entries a login replaces, and [`process`] runs the engine's processes and scrubs what they print. The engine's own CLI runs with exactly the environment
//! it was given, so it reads the user's own configuration (`DOCKER_HOST`, `DOCKER_CONFIG`,
//! `CONTAINERS_STORAGE_CONF`, `CONTAINERS_REGISTRIES_CONF`, `REGISTRY_AUTH_FILE`, ...); the adapter adds no flags
//! of its own that would change where images, credentials or TLS rules come from.

mod credstore;
mod detect;
mod process;
mod remembered;
mod verbs;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::secret::Secret;
pub use credstore::LoginRecord;
// The credential helper's token cache takes the same lock and write files the same private, atomic way.
pub(crate) use credstore::{lock_store, write_private_file};
pub use detect::EngineChoice;

/// Which container engine CLI the adapter drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Docker,
    Podman,
}

impl EngineKind {
    /// The program name, which is also the name the user selects it by.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A local image exported with `docker save` / `podman save` (docker-archive format) to a scratch file in a private
/// directory (0700, created exclusively), removed with it when this is dropped.
pub struct SavedImage(process::TempPath);

impl SavedImage {
    pub fn path(&self) -> &Path {
        &self.0.path
    }
}

/// What a push stored in the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedDigest {
    /// `sha256:<64 hex>` of the manifest bytes the registry stored under the pushed tag.
    pub digest: String,
    /// The manifest's media type when the engine reports it. Neither docker nor podman prints it (and both may
    /// fall back between OCI and Docker v2 formats), so today this is `None` and the caller reads it from the
    /// registry rather than trusting a guess.
    pub media_type: Option<String>,
}

/// Receives the engine's progress output, one line at a time (already scrubbed of the login password).
pub type ProgressSink = Arc<dyn Fn(&str) + Send + Sync>;

/// One container engine CLI and the environment it runs in.
#[derive(Clone)]
pub struct Engine {
    kind: EngineKind,
    program: PathBuf,
    /// The complete environment of every engine process (the caller passes the process environment). Children
    /// get exactly this, so what the engine reads is what the caller saw and validated, nothing inherited on top.
    env: BTreeMap<String, String>,
    progress: ProgressSink,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The environment may hold AWS keys; name the engine only.
        f.debug_struct("Engine").field("kind", &self.kind).field("program", &self.program).finish_non_exhaustive()
    }
}

/// An engine's output line made safe to relay into a CI log: GitHub Actions reads any line that starts with `::`
/// as a workflow command (`::stop-commands::`, `::add-mask::`, `::error::`), so such a line gets a prefix.
pub fn neutralized(line: &str) -> std::borrow::Cow<'_, str> {
    if line.trim_start().starts_with("::") { format!("(engine) {line}").into() } else { line.into() }
}

impl Engine {
    /// An engine with a known program, for callers that resolved it themselves.
    pub fn new(kind: EngineKind, program: PathBuf, env: BTreeMap<String, String>) -> Engine {
        let progress: ProgressSink = Arc::new(|line: &str| crate::log::relay(&neutralized(line)));
        Engine { kind, program, env, progress }
    }

    /// Sends the engine's progress output somewhere other than our stderr (the default).
    pub fn with_progress(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Engine {
        self.progress = Arc::new(sink);
        self
    }

    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    pub fn program(&self) -> &Path {
        &self.program
    }
}

#[cfg(test)]
mod tests {
    use super::neutralized;

    #[test]
    fn relayed_engine_lines_cannot_be_workflow_commands() {
        for (line, expected) in [
            ("::stop-commands::pause", "(engine) ::stop-commands::pause"),
            ("  ::add-mask::x", "(engine)   ::add-mask::x"),
            ("abc: Pushed", "abc: Pushed"),
            ("digest: sha256:ab size: 528", "digest: sha256:ab size: 528"),
        ] {
            assert_eq!(neutralized(line), expected);
        }
    }
}
