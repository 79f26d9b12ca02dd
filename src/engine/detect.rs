//! Choosing the container engine: the offline parse of what the user asked for ([`EngineChoice`]) and the
//! asynchronous probe that turns it into an [`Engine`] (is docker's daemon reachable, else is podman installed).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::bail;

use super::process::{find_program, path_of};
use super::{Engine, EngineKind};
use crate::bail_input;

/// How long `docker version` may take while auto-detecting; a `DOCKER_HOST` pointing at a dead TCP address would
/// otherwise hang detection.
const DETECT_TIMEOUT: Duration = Duration::from_secs(20);

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

impl Engine {
    /// Chooses the engine. `env` is the environment the engine will run with, and its `PATH` is where the
    /// program is looked up.
    ///
    /// Auto picks docker when `docker version` reaches a daemon (honouring `DOCKER_HOST` and contexts), else
    /// podman when it is on `PATH`. An explicit choice only requires the program on `PATH`, because login needs no
    /// daemon and the push reports an unreachable daemon in its own words.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
