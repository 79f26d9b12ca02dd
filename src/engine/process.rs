//! Running engine processes: exactly the given environment, stdin for secrets, output streamed line by line to
//! the progress sink and scrubbed of the login secret ([`Scrubber`]); scratch files in private directories removed
//! on drop ([`TempPath`]); and finding a program on the `PATH` of that environment.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};

use super::{Engine, ProgressSink, Secret};

/// Lines of an engine's output kept for error messages (push progress can be long; the end holds the cause).
const KEPT_LINES: usize = 60;

/// What an engine process printed, scrubbed.
pub(super) struct Captured {
    pub(super) success: bool,
    pub(super) code: Option<i32>,
    pub(super) status: String,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Captured {
    /// Why a credential helper failed: its status and stderr only. A helper's stdout is its answer, which may
    /// hold the secret, so it never goes into an error message.
    pub(super) fn helper_reason(&self) -> String {
        let text = self.stderr.trim();
        if text.is_empty() { format!("{}, no error output", self.status) } else { format!("{}: {text}", self.status) }
    }

    /// The engine's own words for an error message: stderr, or stdout when stderr is empty.
    pub(super) fn reason(&self) -> String {
        let text = if self.stderr.trim().is_empty() { &self.stdout } else { &self.stderr };
        let text = text.trim();
        if text.is_empty() { format!("{}, no output", self.status) } else { format!("{}: {text}", self.status) }
    }
}

impl Engine {
    pub(super) fn command(&self, program: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command.env_clear().envs(&self.env).kill_on_drop(true);
        command
    }

    /// Runs the engine to completion with optional stdin, capturing (and scrubbing) its output.
    pub(super) async fn run(&self, args: &[&str], stdin: Option<&[u8]>, scrub: &Scrubber) -> anyhow::Result<Captured> {
        let program = self.program.clone();
        self.run_program(&program, args, stdin, scrub).await
    }

    pub(super) async fn run_program(
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
    pub(super) async fn run_streaming(&self, args: &[&str]) -> anyhow::Result<Captured> {
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
}

/// Reads an engine's stream line by line, hands each line to the sink, and keeps the last [`KEPT_LINES`].
pub(super) async fn forward_lines(stream: impl AsyncRead + Unpin, sink: &ProgressSink) -> String {
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
pub(super) struct Scrubber {
    needles: Vec<String>,
}

impl Scrubber {
    pub(super) fn none() -> Scrubber {
        Scrubber { needles: Vec::new() }
    }

    pub(super) fn new(username: &str, secret: &Secret) -> Scrubber {
        let secret = secret.expose();
        if secret.is_empty() {
            return Scrubber::none();
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{secret}"));
        Scrubber { needles: vec![secret.to_string(), basic] }
    }

    pub(super) fn clean(&self, text: &str) -> String {
        self.needles.iter().fold(text.to_string(), |text, needle| text.replace(needle.as_str(), "***"))
    }
}

/// A scratch file an engine writes (`save -o`, `push --digestfile`): a path inside a private directory made for it
/// alone (random name, created exclusively with mode 0700 in `TMPDIR`), so whatever mode the engine gives the file,
/// no other user can read it, and nothing planted under a guessable name is followed. The directory and all in it
/// are removed on drop, however the command ends.
pub(super) struct TempPath {
    dir: PathBuf,
    pub(super) path: PathBuf,
}

impl TempPath {
    pub(super) fn new(env: &BTreeMap<String, String>, what: &str) -> anyhow::Result<TempPath> {
        let base = env.get("TMPDIR").filter(|d| !d.is_empty()).map_or_else(std::env::temp_dir, PathBuf::from);
        let mut last = None;
        for _ in 0..8 {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(|e| anyhow!("no randomness for a scratch directory name: {e}"))?;
            let dir = base.join(format!("ecr-ship-{what}-{}", crate::digest::hex(&random)));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            // Not recursive: mkdir fails on anything already there, a link included.
            match builder.create(&dir) {
                Ok(()) => {
                    let path = dir.join(format!("{what}.tmp"));
                    return Ok(TempPath { dir, path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(anyhow!("cannot create a private scratch directory in {}: {e}", base.display()));
                }
            }
        }
        Err(anyhow!(
            "cannot create a private scratch directory in {}: {}",
            base.display(),
            last.map_or_else(|| "no attempt".to_string(), |e| e.to_string())
        ))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Looks `name` up in the `PATH` of `env`, as a shell would.
pub(super) fn find_program(name: &str, env: &BTreeMap<String, String>) -> Option<PathBuf> {
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

pub(super) fn is_executable(path: &Path) -> bool {
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

pub(super) fn path_of(env: &BTreeMap<String, String>) -> String {
    format!("PATH={}", env.get("PATH").map(String::as_str).unwrap_or("<unset>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_helpers_failure_never_quotes_its_stdout() {
        let secret = "eyJwYXlsb2FkIjoiZWNyLXRva2VuIn0";
        let failed = |stderr: &str| Captured {
            success: false,
            code: Some(1),
            status: "exit status 1".into(),
            stdout: format!(r#"{{"ServerURL":"h","Username":"AWS","Secret":"{secret}"}}"#),
            stderr: stderr.into(),
        };
        assert_eq!(failed("").helper_reason(), "exit status 1, no error output");
        assert_eq!(failed("keychain locked").helper_reason(), "exit status 1: keychain locked");
        assert!(
            failed("").reason().contains(secret),
            "the engine form falls back to stdout, which helpers must not use"
        );
    }

    #[test]
    fn scrubber_removes_secret_and_basic_auth() {
        let scrub = Scrubber::new("AWS", &Secret::new("pw"));
        let basic = base64::engine::general_purpose::STANDARD.encode("AWS:pw");
        assert_eq!(scrub.clean(&format!("a pw b {basic}")), "a *** b ***");
    }
}
