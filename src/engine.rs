//! The container-engine adapter: everything ecr-ship does through the `docker` or `podman` command line.
//!
//! This module owns choosing the engine ([`Engine::detect`]), logging in and out of a registry without the password
//! ever reaching an argument list or an environment ([`Engine::login`], [`Engine::logout`]), and the local
//! image steps of a push: check, tag, push (returning the digest the registry stored) and untag. It runs the
//! engine's own CLI with exactly the environment it was given, so the engine reads the user's own configuration
//! (`DOCKER_HOST`, `DOCKER_CONFIG`, `CONTAINERS_STORAGE_CONF`, `CONTAINERS_REGISTRIES_CONF`, `REGISTRY_AUTH_FILE`,
//! ...); the adapter adds no flags of its own that would change where images, credentials or TLS rules come from.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};

use crate::bail_input;

/// How long `docker version` may take while auto-detecting; a `DOCKER_HOST` pointing at a dead TCP address would
/// otherwise hang detection.
const DETECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Lines of an engine's output kept for error messages (push progress can be long; the end holds the cause).
const KEPT_LINES: usize = 60;

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

/// The engine a user asked for, checked offline so the config resolver can refuse a bad value before any
/// process starts; [`Engine::detect`] turns it into a working engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineChoice {
    #[default]
    Auto,
    Docker,
    Podman,
}

impl EngineChoice {
    /// Reads `docker`, `podman` or `auto` (any case, surrounding spaces ignored; empty means auto).
    pub fn parse(value: &str) -> anyhow::Result<EngineChoice> {
        let trimmed = value.trim();
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("auto") {
            Ok(EngineChoice::Auto)
        } else if trimmed.eq_ignore_ascii_case("docker") {
            Ok(EngineChoice::Docker)
        } else if trimmed.eq_ignore_ascii_case("podman") {
            Ok(EngineChoice::Podman)
        } else {
            bail_input!("unknown container engine '{trimmed}': use docker, podman or auto");
        }
    }
}

pub use crate::secret::Secret;

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

/// What one successful [`Engine::login`] changed, so [`Engine::logout`] can undo exactly that.
pub struct LoginRecord {
    kind: EngineKind,
    host: String,
    /// The credentials file the engine writes for this host (docker `config.json` or podman `auth.json`).
    auth_file: PathBuf,
    /// Entries under `auths` for this host (also its `http://`/`https://` spellings, which `docker logout` removes
    /// too) as they were before login. Empty when the run added the host's only entry.
    saved_entries: Map<String, Value>,
    /// A credential a docker credential helper held for this host before login (login overwrote it).
    saved_helper: Option<HelperCredential>,
}

impl LoginRecord {
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn auth_file(&self) -> &Path {
        &self.auth_file
    }

    /// True when the host already had credentials before this run's login, which logout will put back.
    pub fn replaced_existing(&self) -> bool {
        !self.saved_entries.is_empty() || self.saved_helper.is_some()
    }
}

impl fmt::Debug for LoginRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Saved entries are credentials: show which keys only.
        f.debug_struct("LoginRecord")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("auth_file", &self.auth_file)
            .field("saved_entries", &self.saved_entries.keys().collect::<Vec<_>>())
            .field("saved_helper", &self.saved_helper.as_ref().map(|h| &h.helper))
            .finish()
    }
}

struct HelperCredential {
    helper: String,
    server_url: String,
    username: String,
    secret: Secret,
}

/// What an engine process printed, scrubbed.
struct Captured {
    success: bool,
    code: Option<i32>,
    status: String,
    stdout: String,
    stderr: String,
}

impl Captured {
    /// The engine's own words for an error message: stderr, or stdout when stderr is empty.
    fn reason(&self) -> String {
        let text = if self.stderr.trim().is_empty() { &self.stdout } else { &self.stderr };
        let text = text.trim();
        if text.is_empty() { format!("{}, no output", self.status) } else { format!("{}: {text}", self.status) }
    }
}

impl Engine {
    /// Chooses the engine. `env` is the environment the engine will run with, and its `PATH` is where the
    /// program is looked up.
    ///
    /// Auto picks docker when `docker version` reaches a daemon (honouring `DOCKER_HOST` and contexts), else
    /// podman when it is on `PATH`. An explicit choice only requires the program on `PATH`, because docker login
    /// works without a daemon and the push reports an unreachable daemon in its own words.
    /// Asking the docker daemon waits at most [`DETECT_TIMEOUT`], without blocking the runtime.
    pub async fn detect(choice: EngineChoice, env: &BTreeMap<String, String>) -> anyhow::Result<Engine> {
        let explicit = match choice {
            EngineChoice::Auto => None,
            EngineChoice::Docker => Some(EngineKind::Docker),
            EngineChoice::Podman => Some(EngineKind::Podman),
        };
        if let Some(kind) = explicit {
            let Some(program) = find_program(kind.name(), env) else {
                bail_input!("the {kind} engine was requested but '{kind}' is not on PATH ({})", path_of(env));
            };
            return Ok(Engine::new(kind, program, env.clone()));
        }
        let docker_reason = match find_program("docker", env) {
            Some(program) => match docker_daemon_reachable(&program, env).await {
                Ok(()) => return Ok(Engine::new(EngineKind::Docker, program, env.clone())),
                Err(reason) => format!("docker cannot reach a daemon ({reason})"),
            },
            None => "docker is not on PATH".to_string(),
        };
        if let Some(program) = find_program("podman", env) {
            return Ok(Engine::new(EngineKind::Podman, program, env.clone()));
        }
        bail!(
            "no usable container engine: {docker_reason}, and podman is not on PATH ({}); start the Docker daemon \
             (or set DOCKER_HOST), install podman, or name the engine explicitly",
            path_of(env)
        )
    }

    /// An engine with a known program, for callers that resolved it themselves.
    pub fn new(kind: EngineKind, program: PathBuf, env: BTreeMap<String, String>) -> Engine {
        let progress: ProgressSink = Arc::new(|line: &str| eprintln!("{line}"));
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

    /// Logs in to `host` (a bare `host[:port]`; a leading `https://`, as in ECR's `proxyEndpoint`, is removed
    /// because podman rejects it). The password goes only through the engine's stdin (`--password-stdin`), and the
    /// credentials land where the engine normally keeps them. The host's previous entry is saved first so that
    /// [`Engine::logout`] can put it back.
    pub async fn login(&self, host: &str, username: &str, password: &Secret) -> anyhow::Result<LoginRecord> {
        let host = normalize_host(host)?;
        check_arg("user name", username)?;
        let engine = self.kind;
        let auth_file = self.auth_file().with_context(|| format!("{engine} login to {host}"))?;
        let config = read_json_file(&auth_file).with_context(|| {
            format!("{engine} login to {host}: cannot save the existing credentials in {} first", auth_file.display())
        })?;
        let saved_entries = host_entries(&config, &host);
        let saved_helper = match (self.kind, credential_helper(&config, &host)) {
            (EngineKind::Docker, Some(helper)) => self
                .helper_get(&helper, &host)
                .await
                .with_context(|| format!("{engine} login to {host}: cannot save the existing credentials first"))?,
            _ => None,
        };
        let scrub = Scrubber::new(username, password);
        let args = ["login", "--username", username, "--password-stdin", host.as_str()];
        let captured = self.run(&args, Some(password.expose().as_bytes()), &scrub).await?;
        for line in captured.stdout.lines().chain(captured.stderr.lines()) {
            (self.progress)(line);
        }
        if !captured.success {
            bail!("{engine} login to {host} as {username} failed ({})", captured.reason());
        }
        Ok(LoginRecord { kind: self.kind, host, auth_file, saved_entries, saved_helper })
    }

    /// Undoes the given logins, newest first: removes the entry each login added and puts back an entry that
    /// existed before it. Tries every record and reports all failures together.
    pub async fn logout(&self, records: &[LoginRecord]) -> anyhow::Result<()> {
        let mut failures = Vec::new();
        for record in records.iter().rev() {
            if let Err(error) = self.logout_one(record).await {
                failures.push(format!("{error:#}"));
            }
        }
        if failures.is_empty() { Ok(()) } else { bail!("{}", failures.join("; ")) }
    }

    async fn logout_one(&self, record: &LoginRecord) -> anyhow::Result<()> {
        let (engine, host) = (self.kind, record.host.as_str());
        if record.kind != self.kind {
            bail!("{engine} cannot log out of {host}: the login was made with {}", record.kind);
        }
        let captured = self.run(&["logout", host], None, &Scrubber::none()).await?;
        // podman says "not logged into" when the entry is already gone; the goal (our entry removed) holds.
        if !captured.success && !captured.stderr.contains("not logged into") {
            bail!("{engine} logout from {host} failed ({})", captured.reason());
        }
        if let Some(saved) = &record.saved_helper {
            self.helper_store(saved)
                .await
                .with_context(|| format!("{engine} logout from {host}: cannot restore the earlier credentials"))?;
        }
        if !record.saved_entries.is_empty() {
            restore_entries(&record.auth_file, &record.saved_entries).with_context(|| {
                format!(
                    "{engine} logout from {host}: cannot restore the earlier credentials in {}",
                    record.auth_file.display()
                )
            })?;
        }
        Ok(())
    }

    /// Logs the engine out of `host` (used by `ecr-ship logout`, for the hosts an earlier `ecr-ship login` added).
    pub async fn logout_host(&self, host: &str) -> anyhow::Result<()> {
        check_arg("registry host", host)?;
        let captured = self.run(&["logout", host], None, &Scrubber::none()).await?;
        if !captured.success && !captured.stderr.contains("not logged into") {
            bail!("{} logout from {host} failed ({})", self.kind, captured.reason());
        }
        Ok(())
    }

    /// True when the engine has a local image by this reference (name, tag, digest or ID).
    pub async fn image_exists(&self, local_ref: &str) -> anyhow::Result<bool> {
        check_arg("image reference", local_ref)?;
        let engine = self.kind;
        let args: &[&str] = match self.kind {
            EngineKind::Docker => &["image", "inspect", "--format", "{{.Id}}", local_ref],
            EngineKind::Podman => &["image", "exists", local_ref],
        };
        let captured = self.run(args, None, &Scrubber::none()).await?;
        if captured.success {
            return Ok(true);
        }
        // Only a definite "no such image" means false; a daemon that cannot be reached must not look like "absent".
        let absent = match self.kind {
            EngineKind::Docker => captured.stderr.to_ascii_lowercase().contains("no such image"),
            // `podman image exists` documents exit code 1 for "no such image" and 125 for errors.
            EngineKind::Podman => captured.code == Some(1),
        };
        if absent {
            Ok(false)
        } else {
            bail!("{engine} could not check for the local image {local_ref} ({})", captured.reason())
        }
    }

    /// The `repository@sha256:…` names the engine recorded for `local_ref` when it was pushed or pulled: the only
    /// way to know an image's registry digest before pushing it (the engine compresses layers at push time).
    pub async fn repo_digests(&self, local_ref: &str) -> anyhow::Result<Vec<String>> {
        check_arg("image reference", local_ref)?;
        let args = ["image", "inspect", "--format", "{{json .RepoDigests}}", local_ref];
        let captured = self.run(&args, None, &Scrubber::none()).await?;
        if !captured.success {
            bail!("{} could not inspect the local image {local_ref} ({})", self.kind, captured.reason());
        }
        let text = captured.stdout.trim();
        if text.is_empty() || text == "null" {
            return Ok(Vec::new());
        }
        serde_json::from_str(text)
            .with_context(|| format!("{} printed unexpected RepoDigests for {local_ref}: {text}", self.kind))
    }

    /// Gives the local image `local_ref` the additional name `remote_ref`.
    pub async fn tag(&self, local_ref: &str, remote_ref: &str) -> anyhow::Result<()> {
        check_arg("image reference", local_ref)?;
        check_arg("image reference", remote_ref)?;
        let captured = self.run(&["tag", local_ref, remote_ref], None, &Scrubber::none()).await?;
        if !captured.success {
            bail!("{} could not tag {local_ref} as {remote_ref} ({})", self.kind, captured.reason());
        }
        Ok(())
    }

    /// Pushes `remote_ref` (which must name a registry host) and returns the digest of the manifest the registry
    /// stored. The engine's progress goes to the progress sink as it happens.
    pub async fn push(&self, remote_ref: &str) -> anyhow::Result<PushedDigest> {
        check_arg("image reference", remote_ref)?;
        let engine = self.kind;
        let digest = match self.kind {
            EngineKind::Docker => {
                let captured = self.run_streaming(&["push", remote_ref]).await?;
                if !captured.success {
                    bail!("{engine} push of {remote_ref} failed ({})", captured.reason());
                }
                parse_docker_push_digest(&captured.stdout).ok_or_else(|| {
                    anyhow!(
                        "{engine} push of {remote_ref} finished but printed no 'digest: sha256:… size:' line, so the \
                         pushed manifest is unknown (output: {})",
                        captured.stdout.trim()
                    )
                })?
            }
            EngineKind::Podman => {
                // The digest file is the engine's documented way to report the digest; a scratch file that only
                // we read, removed again whatever happens.
                let digest_file = TempPath::new(&self.env, "digest")?;
                let file_arg = digest_file.0.to_string_lossy().into_owned();
                let captured = self.run_streaming(&["push", "--digestfile", &file_arg, remote_ref]).await;
                let contents = std::fs::read_to_string(&digest_file.0);
                let captured = captured?;
                if !captured.success {
                    bail!("{engine} push of {remote_ref} failed ({})", captured.reason());
                }
                let contents = contents.with_context(|| {
                    format!("{engine} push of {remote_ref} finished but wrote no digest file {file_arg}")
                })?;
                let digest = contents.trim();
                if !crate::digest::is_digest(digest) {
                    bail!("{engine} push of {remote_ref} wrote an unexpected digest '{digest}' (want sha256:<64 hex>)");
                }
                digest.to_string()
            }
        };
        Ok(PushedDigest { digest, media_type: None })
    }

    /// Removes the local name `remote_ref` (the temporary tag made for the push). Already gone counts as done.
    /// docker has no untag: `docker rmi --no-prune` removes only the name while another name still refers to the
    /// image (the usual case, the local source tag), but would delete an image known by this name alone.
    pub async fn remove_tag(&self, remote_ref: &str) -> anyhow::Result<()> {
        check_arg("image reference", remote_ref)?;
        // podman untags without deleting; `untag IMAGE NAME` with both the same removes just that name.
        let args: &[&str] = match self.kind {
            EngineKind::Docker => &["rmi", "--no-prune", remote_ref],
            EngineKind::Podman => &["untag", remote_ref, remote_ref],
        };
        let captured = self.run(args, None, &Scrubber::none()).await?;
        let gone = {
            let stderr = captured.stderr.to_ascii_lowercase();
            stderr.contains("no such image") || stderr.contains("image not known") || stderr.contains("tag not known")
        };
        if !captured.success && !gone {
            bail!("{} could not remove the local tag {remote_ref} ({})", self.kind, captured.reason());
        }
        Ok(())
    }

    /// The file this engine keeps registry credentials in, resolved the way the engine resolves it.
    pub fn auth_file(&self) -> anyhow::Result<PathBuf> {
        let var = |key: &str| self.env.get(key).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home =
            || var("HOME").or_else(|| var("USERPROFILE")).ok_or_else(|| anyhow!("neither HOME nor USERPROFILE is set"));
        match self.kind {
            // docker/cli config.Dir(): DOCKER_CONFIG, else ~/.docker.
            EngineKind::Docker => {
                Ok(var("DOCKER_CONFIG").map_or_else(|| home().map(|h| h.join(".docker")), Ok)?.join("config.json"))
            }
            // containers/image pkg/docker/config: REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
            // else /run/containers/<uid>/auth.json on Linux and ~/.config/containers/auth.json elsewhere.
            EngineKind::Podman => {
                if let Some(file) = var("REGISTRY_AUTH_FILE") {
                    return Ok(file);
                }
                if let Some(runtime) = var("XDG_RUNTIME_DIR") {
                    return Ok(runtime.join("containers/auth.json"));
                }
                #[cfg(target_os = "linux")]
                {
                    use std::os::unix::fs::MetadataExt;
                    let uid = std::fs::metadata("/proc/self").context("reading our user id from /proc/self")?.uid();
                    Ok(PathBuf::from(format!("/run/containers/{uid}/auth.json")))
                }
                #[cfg(not(target_os = "linux"))]
                {
                    Ok(home()?.join(".config/containers/auth.json"))
                }
            }
        }
    }

    fn command(&self, program: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command.env_clear().envs(&self.env).kill_on_drop(true);
        command
    }

    /// Runs the engine to completion with optional stdin, capturing (and scrubbing) its output.
    async fn run(&self, args: &[&str], stdin: Option<&[u8]>, scrub: &Scrubber) -> anyhow::Result<Captured> {
        let program = self.program.clone();
        self.run_program(&program, args, stdin, scrub).await
    }

    async fn run_program(
        &self,
        program: &Path,
        args: &[&str],
        stdin: Option<&[u8]>,
        scrub: &Scrubber,
    ) -> anyhow::Result<Captured> {
        let mut command = self.command(program);
        command.args(args).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let what = || format!("{} {}", program.display(), args.first().copied().unwrap_or_default());
        let mut child = command.spawn().with_context(|| format!("could not start {}", what()))?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A broken pipe here means the engine exited early; its exit status and stderr tell why.
            let _ = pipe.write_all(bytes).await;
            let _ = pipe.shutdown().await;
            drop(pipe);
        }
        let output = child.wait_with_output().await.with_context(|| format!("waiting for {}", what()))?;
        Ok(Captured {
            success: output.status.success(),
            code: output.status.code(),
            status: output.status.to_string(),
            stdout: scrub.clean(&String::from_utf8_lossy(&output.stdout)),
            stderr: scrub.clean(&String::from_utf8_lossy(&output.stderr)),
        })
    }

    /// Runs the engine, passing each output line to the progress sink as it comes and keeping the last lines of
    /// each stream for digest parsing and error messages.
    async fn run_streaming(&self, args: &[&str]) -> anyhow::Result<Captured> {
        let mut command = self.command(&self.program);
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let what = || format!("{} {}", self.program.display(), args.first().copied().unwrap_or_default());
        let mut child = command.spawn().with_context(|| format!("could not start {}", what()))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            bail!("{} started without output pipes", what());
        };
        let (stdout, stderr, status) =
            tokio::join!(forward_lines(stdout, &self.progress), forward_lines(stderr, &self.progress), child.wait());
        let status = status.with_context(|| format!("waiting for {}", what()))?;
        Ok(Captured { success: status.success(), code: status.code(), status: status.to_string(), stdout, stderr })
    }

    /// Reads what a docker credential helper holds for `host`; `None` when it holds nothing.
    async fn helper_get(&self, helper: &str, host: &str) -> anyhow::Result<Option<HelperCredential>> {
        let program = self.helper_program(helper)?;
        let captured = self.run_program(&program, &["get"], Some(host.as_bytes()), &Scrubber::none()).await?;
        if !captured.success {
            // The helper protocol's "nothing stored" answer (docker-credential-helpers credentials.ErrCredentialsNotFound).
            if captured.stdout.contains("credentials not found") || captured.stderr.contains("credentials not found") {
                return Ok(None);
            }
            bail!("docker-credential-{helper} get {host} failed ({})", captured.reason());
        }
        let reply: Value = serde_json::from_str(&captured.stdout)
            .map_err(|e| anyhow!("docker-credential-{helper} get {host} answered with invalid JSON: {e}"))?;
        let field = |name: &str| reply.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(Some(HelperCredential {
            helper: helper.to_string(),
            server_url: {
                let url = field("ServerURL");
                if url.is_empty() { host.to_string() } else { url }
            },
            username: field("Username"),
            secret: Secret::new(field("Secret")),
        }))
    }

    /// Puts a saved credential back into its helper.
    async fn helper_store(&self, saved: &HelperCredential) -> anyhow::Result<()> {
        let program = self.helper_program(&saved.helper)?;
        let payload = serde_json::json!({
            "ServerURL": saved.server_url,
            "Username": saved.username,
            "Secret": saved.secret.expose(),
        })
        .to_string();
        let scrub = Scrubber::new(&saved.username, &saved.secret);
        let captured = self.run_program(&program, &["store"], Some(payload.as_bytes()), &scrub).await?;
        if !captured.success {
            bail!("docker-credential-{} store {} failed ({})", saved.helper, saved.server_url, captured.reason());
        }
        Ok(())
    }

    fn helper_program(&self, helper: &str) -> anyhow::Result<PathBuf> {
        let name = format!("docker-credential-{helper}");
        find_program(&name, &self.env).ok_or_else(|| anyhow!("the credential helper {name} is not on PATH"))
    }
}

/// Reads an engine's stream line by line, hands each line to the sink, and keeps the last [`KEPT_LINES`].
async fn forward_lines(stream: impl AsyncRead + Unpin, sink: &ProgressSink) -> String {
    let mut reader = BufReader::new(stream);
    let mut kept = VecDeque::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                // docker's progress uses carriage returns to redraw; each redraw is its own line for a log.
                for part in text.split(['\r', '\n']).filter(|p| !p.trim().is_empty()) {
                    sink(part);
                    if kept.len() == KEPT_LINES {
                        kept.pop_front();
                    }
                    kept.push_back(part.to_string());
                }
            }
        }
    }
    kept.into_iter().collect::<Vec<_>>().join("\n")
}

/// Removes a secret (and the base64 `user:secret` form config files hold) from text before it is shown.
struct Scrubber {
    needles: Vec<String>,
}

impl Scrubber {
    fn none() -> Scrubber {
        Scrubber { needles: Vec::new() }
    }

    fn new(username: &str, secret: &Secret) -> Scrubber {
        let secret = secret.expose();
        if secret.is_empty() {
            return Scrubber::none();
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{secret}"));
        Scrubber { needles: vec![secret.to_string(), basic] }
    }

    fn clean(&self, text: &str) -> String {
        self.needles.iter().fold(text.to_string(), |text, needle| text.replace(needle.as_str(), "***"))
    }
}

/// A scratch file path removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(env: &BTreeMap<String, String>, what: &str) -> anyhow::Result<TempPath> {
        let dir = env.get("TMPDIR").filter(|d| !d.is_empty()).map_or_else(std::env::temp_dir, PathBuf::from);
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| anyhow!("no randomness for a scratch file name: {e}"))?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Ok(TempPath(dir.join(format!("ecr-ship-{what}-{}-{suffix}", std::process::id()))))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Turns a login host as users and ECR write it into the bare `host[:port]` both engines store credentials under.
fn normalize_host(host: &str) -> anyhow::Result<String> {
    let trimmed = host.trim();
    let bare = trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://")).unwrap_or(trimmed);
    let bare = bare.trim_end_matches('/');
    if bare.is_empty() || bare.contains('/') {
        bail_input!(
            "invalid registry host '{host}': expected host[:port], for example 123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
    }
    check_arg("registry host", bare)?;
    Ok(bare.to_string())
}

/// Rejects values that the engine would read as an option or that cannot be a name at all, since every value
/// here becomes an argument of the engine's command line.
fn check_arg(what: &str, value: &str) -> anyhow::Result<()> {
    if value.is_empty() || value.starts_with('-') || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail_input!(
            "invalid {what} '{value}': it must be non-empty, must not start with '-' and must not contain spaces"
        );
    }
    Ok(())
}

/// Finds `<tag>: digest: sha256:<hex> size: <n>`, the line `docker push` ends with; the last one wins because a
/// push prints one per pushed tag.
fn parse_docker_push_digest(stdout: &str) -> Option<String> {
    stdout.lines().rev().find_map(|line| {
        let after = &line[line.find("digest: ")? + "digest: ".len()..];
        let digest = after.split_whitespace().next()?;
        crate::digest::is_digest(digest).then(|| digest.to_string())
    })
}

/// Looks `name` up in the `PATH` of `env`, as a shell would.
fn find_program(name: &str, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    let path = env.get("PATH")?;
    let names: Vec<String> = if cfg!(windows) {
        vec![format!("{name}.exe"), format!("{name}.cmd"), name.to_string()]
    } else {
        vec![name.to_string()]
    };
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .find_map(|dir| names.iter().map(|n| dir.join(n)).find(|candidate| is_executable(candidate)))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

fn path_of(env: &BTreeMap<String, String>) -> String {
    format!("PATH={}", env.get("PATH").map(String::as_str).unwrap_or("<unset>"))
}

/// Asks `docker version` for the server version: success means a daemon answered at the configured address.
async fn docker_daemon_reachable(program: &Path, env: &BTreeMap<String, String>) -> Result<(), String> {
    let child = tokio::process::Command::new(program)
        .args(["version", "--format", "{{.Server.Version}}"])
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A timed-out `docker version` is dropped with the future; it must not outlive detection.
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", program.display()))?;
    let output = match tokio::time::timeout(DETECT_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(format!("waiting for docker version: {e}")),
        Err(_) => return Err(format!("no answer within {DETECT_TIMEOUT:?}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && !stdout.trim().is_empty() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no server version").trim().to_string();
        Err(reason)
    }
}

/// Reads a JSON credentials file; a missing or empty file is an empty object.
fn read_json_file(path: &Path) -> anyhow::Result<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(Value::Object(Map::new())),
        Ok(text) => serde_json::from_str(&text).map_err(|e| anyhow!("{} is not valid JSON: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Object(Map::new())),
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// The spellings of a host both engines match when reading credentials and `docker logout` removes.
fn host_keys(host: &str) -> [String; 3] {
    [host.to_string(), format!("https://{host}"), format!("http://{host}")]
}

fn host_entries(config: &Value, host: &str) -> Map<String, Value> {
    let mut entries = Map::new();
    if let Some(auths) = config.get("auths").and_then(Value::as_object) {
        for key in host_keys(host) {
            if let Some(entry) = auths.get(&key) {
                entries.insert(key, entry.clone());
            }
        }
    }
    entries
}

/// The docker credential helper that holds this host's credentials (`credHelpers` beats `credsStore`), if any.
fn credential_helper(config: &Value, host: &str) -> Option<String> {
    let named = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    named(config.get("credHelpers").and_then(|h| h.get(host))).or_else(|| named(config.get("credsStore")))
}

/// Writes saved `auths` entries back into the credentials file, leaving everything else in it as it is now.
fn restore_entries(path: &Path, saved: &Map<String, Value>) -> anyhow::Result<()> {
    let mut config = read_json_file(path)?;
    let Some(root) = config.as_object_mut() else { bail!("{} does not hold a JSON object", path.display()) };
    let auths = root.entry("auths").or_insert_with(|| Value::Object(Map::new()));
    let Some(auths) = auths.as_object_mut() else { bail!("'auths' in {} is not a JSON object", path.display()) };
    for (key, entry) in saved {
        auths.insert(key.clone(), entry.clone());
    }
    let mut text = serde_json::to_string_pretty(&config).context("serializing credentials")?;
    text.push('\n');
    write_private_file(path, text.as_bytes())
}

/// Replaces a file through a sibling temporary file and a rename, so a crash never leaves half a credentials file;
/// the file is readable by its owner only, as the engines write it.
fn write_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = dir.join(format!(".{name}.ecr-ship-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = options
        .open(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temporary);
        bail!("cannot write {}: {e}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_scheme_and_bad_ones_are_bad_input() {
        assert_eq!(
            normalize_host("https://1.dkr.ecr.us-east-1.amazonaws.com/").unwrap(),
            "1.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert_eq!(normalize_host("127.0.0.1:5000").unwrap(), "127.0.0.1:5000");
        for bad in ["", "https://", "a/b", "-H", "a b"] {
            let error = normalize_host(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT, "{bad:?}");
        }
    }

    #[test]
    fn engine_choice_parse_table() {
        for (value, choice) in [
            ("", EngineChoice::Auto),
            ("  ", EngineChoice::Auto),
            ("auto", EngineChoice::Auto),
            ("AUTO", EngineChoice::Auto),
            ("docker", EngineChoice::Docker),
            (" Docker ", EngineChoice::Docker),
            ("podman", EngineChoice::Podman),
            ("PODMAN", EngineChoice::Podman),
        ] {
            assert_eq!(EngineChoice::parse(value).unwrap(), choice, "{value:?}");
        }
        for bad in ["containerd", "dock er", "nerdctl", "docker,podman"] {
            let error = EngineChoice::parse(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT, "{bad:?}");
            let message = error.to_string();
            assert!(message.contains(bad.trim()) && message.contains("docker, podman or auto"), "{message}");
        }
    }

    #[test]
    fn docker_push_digest_line() {
        let out = "The push refers to repository [h/r]\nabc: Pushed\nv1: digest: sha256:75055bd3d18538e3fd18cccc4dd2116dfc124d4eb6cb76ddd1e712a143887066 size: 524\n";
        assert_eq!(
            parse_docker_push_digest(out).as_deref(),
            Some("sha256:75055bd3d18538e3fd18cccc4dd2116dfc124d4eb6cb76ddd1e712a143887066")
        );
        assert_eq!(parse_docker_push_digest("v1: digest: sha256:abc size: 1"), None);
        assert_eq!(parse_docker_push_digest(""), None);
    }

    #[test]
    fn scrubber_removes_secret_and_basic_auth() {
        let scrub = Scrubber::new("AWS", &Secret::new("pw"));
        let basic = base64::engine::general_purpose::STANDARD.encode("AWS:pw");
        assert_eq!(scrub.clean(&format!("a pw b {basic}")), "a *** b ***");
    }

    #[test]
    fn entries_for_all_spellings_of_a_host() {
        let config = serde_json::json!({"auths": {"h:1": {"auth": "x"}, "https://h:1": {"auth": "y"}, "h:2": {}}});
        let entries = host_entries(&config, "h:1");
        assert_eq!(entries.keys().collect::<Vec<_>>(), ["h:1", "https://h:1"]);
        assert_eq!(credential_helper(&serde_json::json!({"credsStore": "pass"}), "h"), Some("pass".into()));
        assert_eq!(
            credential_helper(&serde_json::json!({"credsStore": "pass", "credHelpers": {"h": "ecr-login"}}), "h"),
            Some("ecr-login".into())
        );
    }
}
