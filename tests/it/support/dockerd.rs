//! An isolated Docker daemon (Debian's docker.io dockerd 20.10) for the container-engine tests.
//!
//! Each [`Dockerd`] gets its own data root, exec root, pid file and unix socket in a scratch dir, with iptables
//! and the default bridge off so it touches neither the host's network nor a system dockerd. It is stopped with
//! SIGTERM by PID when dropped (so dockerd shuts its own containerd down), waited for, and any containerd it
//! leaves behind is killed by PID too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::wait_until;

pub struct Dockerd {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    /// How long dockerd took until `docker version` reached it.
    pub started_in: Duration,
    child: Option<Child>,
}

impl Dockerd {
    pub fn start() -> Dockerd {
        Dockerd::start_with_hosts(None)
    }

    /// A dockerd that resolves names through `hosts` (in a private mount namespace), so it reaches the ECR
    /// stand-in by the real registry host name, as the binary does.
    pub fn start_with_hosts(hosts: Option<&Path>) -> Dockerd {
        Dockerd::start_with(hosts, None)
    }

    /// Like [`Dockerd::start_with_hosts`], and the daemon trusts the certificates in `ca_bundle` (through
    /// `SSL_CERT_FILE`, which Go's system pool reads), so `docker login`/`push`/`pull` reach the ECR stand-in's
    /// registries (private hosts and `public.ecr.aws`) over verified TLS.
    pub fn start_trusting(hosts: &Path, ca_bundle: &Path) -> Dockerd {
        Dockerd::start_with(Some(hosts), Some(ca_bundle))
    }

    fn start_with(hosts: Option<&Path>, ca_bundle: Option<&Path>) -> Dockerd {
        let dir = super::scratch_dir("dockerd");
        let root = dir.path();
        let socket = root.join("docker.sock");
        let log = std::fs::File::create(root.join("dockerd.log")).expect("dockerd log file");
        let started = Instant::now();
        let mut command = match hosts {
            Some(hosts) => super::in_hosts_namespace(hosts, "dockerd"),
            None => Command::new("dockerd"),
        };
        if let Some(bundle) = ca_bundle {
            command.env("SSL_CERT_FILE", bundle);
        }
        let child = command
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("--pidfile")
            .arg(root.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start dockerd (Debian package docker.io)");
        let mut daemon = Dockerd { dir, socket, started_in: Duration::ZERO, child: Some(child) };
        let config = daemon.dir.path().join("probe-config");
        wait_until("dockerd", Duration::from_secs(30), || {
            daemon.docker(&config, &["version", "--format", "{{.Server.Version}}"]).status.success()
        });
        daemon.started_in = started.elapsed();
        daemon
    }

    /// `unix://…` for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The environment a docker client of this daemon runs with: PATH, a scratch HOME (so no real
    /// `~/.docker/config.json` is read), `DOCKER_HOST` and the given `DOCKER_CONFIG` dir.
    pub fn env(&self, docker_config: &Path) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        env.insert("HOME".into(), self.dir.path().join("home").display().to_string());
        env.insert("DOCKER_HOST".into(), self.host());
        env.insert("DOCKER_CONFIG".into(), docker_config.display().to_string());
        env
    }

    /// Runs the docker CLI against this daemon.
    pub fn docker(&self, docker_config: &Path, args: &[&str]) -> Output {
        Command::new("docker")
            .args(args)
            .env_clear()
            .envs(self.env(docker_config))
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    /// Builds `tag` from scratch out of the given files with the legacy builder (BuildKit needs buildx, and
    /// nothing is pulled from the internet).
    pub fn build_scratch_image(&self, tag: &str, files: &[(&str, &[u8])]) {
        let context = write_scratch_context(self.dir.path(), tag, files);
        let output = Command::new("docker")
            .args(["build", "-q", "-t", tag, "-f"])
            .arg(context.join("Containerfile"))
            .arg(&context)
            .env_clear()
            .envs(self.env(&self.dir.path().join("build-config")))
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("run docker build");
        assert!(output.status.success(), "docker build {tag}: {}", String::from_utf8_lossy(&output.stderr));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// Stops dockerd (SIGTERM, then SIGKILL after 20 s) and its containerd; returns how long that took.
    pub fn stop(&mut self) -> Duration {
        let started = Instant::now();
        let Some(mut child) = self.child.take() else { return Duration::ZERO };
        let pid = child.id();
        let children = child_pids(pid);
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(25)),
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
        // dockerd normally stops its containerd; kill one that outlived it, only if it is still ours (its command
        // line names our exec root), since the PID could in theory have been reused.
        let exec_root = self.dir.path().join("exec").display().to_string();
        for child_pid in children {
            let cmdline = std::fs::read(format!("/proc/{child_pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&exec_root) {
                let _ = Command::new("kill").args(["-KILL", &child_pid.to_string()]).status();
            }
        }
        started.elapsed()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes a build context for a `FROM scratch` image holding `files` (name, contents) and returns its directory.
pub fn write_scratch_context(base: &Path, tag: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let name: String = tag.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let context = base.join(format!("context-{name}"));
    std::fs::create_dir_all(&context).expect("mkdir build context");
    let mut containerfile = String::from("FROM scratch\n");
    for (file, contents) in files {
        std::fs::write(context.join(file), contents).expect("write context file");
        containerfile.push_str(&format!("COPY {file} /{file}\n"));
    }
    std::fs::write(context.join("Containerfile"), containerfile).expect("write Containerfile");
    context
}

/// PIDs whose parent is `pid`, read from /proc.
pub fn child_pids(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|candidate| {
            let stat = std::fs::read_to_string(format!("/proc/{candidate}/stat")).unwrap_or_default();
            // Field 4 is the parent PID; the command name (field 2) may contain spaces, so split after ')'.
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok()) == Some(pid)
        })
        .collect()
}
