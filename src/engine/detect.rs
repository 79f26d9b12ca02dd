//! Choosing the container engine: the offline parse of what the user asked for ([`EngineChoice`]) and the
//! asynchronous probe that turns it into an [`Engine`] (is docker's daemon reachable, else is podman installed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
            Some(program) => match daemon_reachable(&program, env).await {
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

/// Whether docker's daemon answers where docker's CLI would look for it. A local socket is asked directly (the
/// CLI's own first request, `GET /_ping`), which saves starting the CLI on the login's and the push's critical
/// path; any other address (TCP, SSH, a context) is only known to the CLI, so `docker version` is asked there.
async fn daemon_reachable(program: &Path, env: &BTreeMap<String, String>) -> Result<(), String> {
    match local_daemon_socket(env) {
        Some(socket) => ping_socket(&socket).await,
        None => docker_daemon_reachable(program, env).await,
    }
}

impl Engine {
    /// The docker daemon's address when `DOCKER_HOST` names another machine (`tcp://` or `ssh://` to a host that is
    /// not loopback): an export there would carry the image across the network once more than docker's own push.
    pub fn remote_daemon(&self) -> Option<&str> {
        remote_daemon_address(&self.env)
    }
}

fn remote_daemon_address(env: &BTreeMap<String, String>) -> Option<&str> {
    let host = env.get("DOCKER_HOST").map(|v| v.trim()).filter(|v| !v.is_empty())?;
    let rest = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("ssh://"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let machine = authority.rsplit_once('@').map_or(authority, |(_, machine)| machine);
    let name = match machine.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(bracketed),
        None => machine.rsplit_once(':').map_or(machine, |(name, _)| name),
    };
    let loopback = name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (!loopback).then_some(host)
}

/// docker's default daemon socket on Linux.
const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The local socket docker's CLI would use: `DOCKER_HOST=unix://PATH`, or with no `DOCKER_HOST` and no context
/// chosen (`DOCKER_CONTEXT`, or `currentContext` in config.json, other than `default`) the default socket. `None`
/// when the address is not a local socket, or only the CLI can tell (contexts, an unreadable config.json).
fn local_daemon_socket(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    let var = |key: &str| env.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(host) = var("DOCKER_HOST") {
        return host.strip_prefix("unix://").filter(|path| path.starts_with('/')).map(PathBuf::from);
    }
    if var("DOCKER_CONTEXT").is_some_and(|context| context != "default") {
        return None;
    }
    let config_dir = match var("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(var("HOME")?).join(".docker"),
    };
    let config = super::credstore::read_json_file(&config_dir.join("config.json")).ok()?;
    match config.get("currentContext") {
        None => Some(PathBuf::from(DEFAULT_DOCKER_SOCKET)),
        Some(serde_json::Value::String(context)) if context.is_empty() || context == "default" => {
            Some(PathBuf::from(DEFAULT_DOCKER_SOCKET))
        }
        Some(_) => None,
    }
}

/// `GET /_ping` on a daemon socket: a `200` answer means a daemon listens there. Bounded like `docker version`.
async fn ping_socket(socket: &Path) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = format!("unix://{}", socket.display());
    let exchange = async {
        let mut stream = tokio::net::UnixStream::connect(socket).await?;
        stream.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n").await?;
        let mut answer = Vec::new();
        // The status line is all that is needed; the answer is a few hundred bytes.
        stream.take(4096).read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = match tokio::time::timeout(DETECT_TIMEOUT, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return Err(format!("cannot connect to the Docker daemon at {address}: {e}")),
        Err(_) => return Err(format!("the Docker daemon at {address} did not answer within {DETECT_TIMEOUT:?}")),
    };
    let status = String::from_utf8_lossy(&answer);
    let status = status.lines().next().unwrap_or("");
    if status.starts_with("HTTP/1.") && status.split(' ').nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("the Docker daemon at {address} answered '{}' to a ping", crate::error::shown(status)))
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
    fn a_daemon_on_another_machine_is_remote() {
        for (host, remote) in [
            (None, false),
            (Some("unix:///var/run/docker.sock"), false),
            (Some("tcp://127.0.0.1:2375"), false),
            (Some("tcp://localhost:2376"), false),
            (Some("tcp://[::1]:2375"), false),
            (Some("ssh://me@localhost"), false),
            (Some("tcp://docker:2376"), true),
            (Some("tcp://10.0.0.5:2375"), true),
            (Some("ssh://builder@build-host.example"), true),
            (Some("ssh://builder@[2001:db8::1]:22"), true),
            (Some("npipe:////./pipe/docker_engine"), false),
        ] {
            let env: BTreeMap<String, String> =
                host.map(|h| ("DOCKER_HOST".to_string(), h.to_string())).into_iter().collect();
            assert_eq!(remote_daemon_address(&env).is_some(), remote, "{host:?}");
        }
    }

    #[test]
    fn the_local_socket_is_asked_only_where_docker_would_use_it() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap().to_string();
        let with_context = dir.path().join("ctx");
        std::fs::create_dir_all(&with_context).unwrap();
        std::fs::write(with_context.join("config.json"), r#"{"currentContext":"desktop-linux"}"#).unwrap();
        let default_context = dir.path().join("default-ctx");
        std::fs::create_dir_all(&default_context).unwrap();
        std::fs::write(default_context.join("config.json"), r#"{"currentContext":"default","auths":{}}"#).unwrap();
        let broken = dir.path().join("broken");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(broken.join("config.json"), "{not json").unwrap();
        let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
        let default = Some(PathBuf::from(DEFAULT_DOCKER_SOCKET));
        type Vars<'a> = Vec<(&'a str, String)>;
        let cases: Vec<(Vars, Option<PathBuf>)> = vec![
            (vec![("HOME", home.clone())], default.clone()),
            (
                vec![("HOME", home.clone()), ("DOCKER_HOST", "unix:///run/user/1000/docker.sock".into())],
                Some(PathBuf::from("/run/user/1000/docker.sock")),
            ),
            (vec![("HOME", home.clone()), ("DOCKER_HOST", "tcp://127.0.0.1:2375".into())], None),
            (vec![("HOME", home.clone()), ("DOCKER_HOST", "ssh://builder".into())], None),
            (vec![("HOME", home.clone()), ("DOCKER_HOST", "unix://relative.sock".into())], None),
            (vec![("HOME", home.clone()), ("DOCKER_CONTEXT", "remote".into())], None),
            (vec![("HOME", home.clone()), ("DOCKER_CONTEXT", "default".into())], default.clone()),
            (vec![("DOCKER_CONFIG", path(&with_context))], None),
            (vec![("DOCKER_CONFIG", path(&default_context))], default.clone()),
            (vec![("DOCKER_CONFIG", path(&broken))], None),
            (vec![], None),
        ];
        for (vars, expected) in cases {
            let env: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            assert_eq!(local_daemon_socket(&env), expected, "{vars:?}");
        }
    }

    #[tokio::test]
    async fn a_ping_on_the_socket_tells_a_daemon_from_anything_else() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let serve = |name: &str, answer: &'static [u8]| {
            let socket = dir.path().join(name);
            let listener = tokio::net::UnixListener::bind(&socket).unwrap();
            let server = tokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = vec![0; 1024];
                let read = stream.read(&mut request).await.unwrap();
                stream.write_all(answer).await.unwrap();
                String::from_utf8_lossy(&request[..read]).to_string()
            });
            (socket, server)
        };
        let (socket, server) =
            serve("docker.sock", b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK");
        assert_eq!(ping_socket(&socket).await, Ok(()));
        assert!(server.await.unwrap().starts_with("GET /_ping HTTP/1.1\r\n"));
        let (socket, server) = serve("other.sock", b"HTTP/1.1 404 Not Found\r\n\r\n");
        let reason = ping_socket(&socket).await.unwrap_err();
        assert!(reason.contains("answered 'HTTP/1.1 404 Not Found'") && reason.contains("other.sock"), "{reason}");
        server.await.unwrap();
        let reason = ping_socket(&dir.path().join("absent.sock")).await.unwrap_err();
        assert!(
            reason.starts_with("cannot connect to the Docker daemon at unix://") && reason.contains("absent.sock"),
            "{reason}"
        );
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
}
