//! Test harness: a builder that spawns the real binary, and the local stand-ins the tests start and stop by PID.
//!
//! Every stand-in is a real program (moto server, Debian's docker-registry, ...) started on a free loopback port
//! and killed by its PID when the handle drops, so a failing test never leaves a server behind.

#![allow(dead_code)]
#![cfg_attr(not(feature = "stand-ins"), allow(unused_imports))]

pub mod dockerd;
pub mod ecr;
pub mod images;
pub mod imds;
pub mod moto;
pub mod oidc;
pub mod podman;
pub mod proc_scan;
pub mod registry;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Directory for per-test scratch files: under the target dir, so a fresh clone starts clean.
pub fn scratch_dir(name: &str) -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).expect("create CARGO_TARGET_TMPDIR");
    tempfile::Builder::new().prefix(&format!("{name}-")).tempdir_in(base).expect("create scratch dir")
}

/// A free TCP port on 127.0.0.1 (bound and released; the OS does not hand it out again at once).
/// Writes `body` to `path` as an executable script (fake tools, credential helpers, CI launchers).
pub fn write_executable(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind 127.0.0.1:0").port()
}

/// Polls `ready` every 25 ms until it is true or `limit` passes.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "{what} was not ready within {limit:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Status code of a plain-HTTP GET on loopback, without pulling in an HTTP client.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 16];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A command that runs `program` in a private mount namespace whose /etc/hosts is `hosts`, so names resolve as
/// the test says without touching the machine's own file. `unshare` execs the command: the PID stays its own.
pub fn in_hosts_namespace(hosts: &Path, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("unshare");
    command.args(["--mount", "sh", "-c", r#"mount --bind "$0" /etc/hosts && exec "$@""#]).arg(hosts).arg(program);
    command
}

/// A child process killed (and reaped) when dropped.
pub struct Guarded {
    pub child: Child,
    pub name: &'static str,
}

impl Guarded {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builder for one run of the real `ecr-ship` binary with a clean, explicit environment.
pub struct Ship {
    /// Run inside a private mount namespace that sees this file as /etc/hosts.
    hosts_file: Option<PathBuf>,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
}

/// What a run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ship {
    /// A run with no environment but PATH and HOME, so the host's CI or AWS variables never leak in.
    pub fn new(args: &[&str]) -> Ship {
        let mut env = BTreeMap::new();
        for key in ["PATH", "HOME", "TMPDIR"] {
            if let Ok(value) = std::env::var(key) {
                env.insert(key.to_string(), value);
            }
        }
        env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        Ship { hosts_file: None, args: args.iter().map(|a| a.to_string()).collect(), env, cwd: None, stdin: None }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Ship {
        self.args.push(arg.into());
        self
    }

    pub fn args_from(mut self, args: &[String]) -> Ship {
        self.args.extend(args.iter().cloned());
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Ship {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Removes a variable from the run's environment.
    pub fn without(mut self, key: &str) -> Ship {
        self.env.remove(key);
        self
    }

    pub fn envs<'a>(mut self, pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Ship {
        for (key, value) in pairs {
            self.env.insert(key.clone(), value.clone());
        }
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Ship {
        self.cwd = Some(dir.into());
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Ship {
        self.stdin = Some(bytes.into());
        self
    }

    /// Runs the binary where the ECR stand-in's host name resolves (see `ecr::Ecr::wrap`), with its environment.
    pub fn against(mut self, ecr: &ecr::Ecr) -> Ship {
        self.hosts_file = Some(ecr.hosts_file.clone());
        for (key, value) in ecr.env() {
            self.env.insert(key, value);
        }
        self
    }

    pub fn command(&self) -> Command {
        let binary = env!("CARGO_BIN_EXE_ecr-ship");
        let mut command = match &self.hosts_file {
            Some(hosts) => in_hosts_namespace(hosts, binary),
            None => Command::new(binary),
        };
        command.args(&self.args).env_clear().envs(&self.env);
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        command
    }

    pub fn run(self) -> Run {
        use std::io::Write;
        let mut command = self.command();
        command.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn ecr-ship");
        if let Some(bytes) = &self.stdin {
            child.stdin.take().expect("stdin").write_all(bytes).expect("write stdin");
        }
        let Output { status, stdout, stderr } = child.wait_with_output().expect("wait for ecr-ship");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

impl Ship {
    /// Runs where AWS is a server that never answers, with keys that would be accepted, and asserts the run was
    /// refused as bad input (exit 2, in one line) naming `needle`: nothing can have been sent anywhere.
    #[track_caller]
    pub fn refused_offline(self, silent: &SilentServer, needle: &str) -> Run {
        let shown = format!("{:?}", self.args);
        let run = self
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", silent.port))
            .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .run();
        assert_eq!(run.code, 2, "{shown}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{shown}: {} lacks {needle}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{shown}: one line: {}", run.stderr);
        run
    }
}

impl Run {
    /// Asserts success and returns self, printing stderr on failure.
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Asserts the exit code and that stderr mentions `needle`.
    #[track_caller]
    pub fn fails_with(self, code: i32, needle: &str) -> Run {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}:\n{}", self.stderr);
        self
    }
}

/// A stand-in for the container credentials endpoint through which AWS CodeBuild (and ECS) hand a project's
/// service-role credentials to the SDKs: a thread on 127.0.0.1 answering every GET with temporary keys, reached via
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` (the SDKs accept plain HTTP there for loopback addresses only; the real
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` means 169.254.170.2). moto accepts any keys while auth is off. Requests
/// are counted; the thread stops and is joined when the handle drops.
pub struct ContainerCredentials {
    pub port: u16,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ContainerCredentials {
    pub const ACCESS_KEY_ID: &'static str = "ASIACODEBUILDSTANDIN";

    pub fn start() -> ContainerCredentials {
        use std::io::{BufRead, Write};
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    // Read the request head; the body of a GET is empty.
                    let mut reader = std::io::BufReader::new(match stream.try_clone() {
                        Ok(s) => s,
                        Err(_) => continue,
                    });
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" && line != "\n" {
                        line.clear();
                    }
                    requests.fetch_add(1, Ordering::SeqCst);
                    let body = serde_json::json!({
                        "AccessKeyId": Self::ACCESS_KEY_ID,
                        "SecretAccessKey": "codebuild-stand-in-secret",
                        "Token": "codebuild-stand-in-session-token",
                        "Expiration": "2099-01-01T00:00:00Z",
                        "RoleArn": "arn:aws:iam::123456789012:role/codebuild-app-service-role",
                    })
                    .to_string();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            })
        };
        ContainerCredentials { port, requests, stop, thread: Some(thread) }
    }

    /// The value for `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn full_uri(&self) -> String {
        format!("http://127.0.0.1:{}/v2/credentials/codebuild", self.port)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for ContainerCredentials {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A TCP server on 127.0.0.1 that accepts every connection and never answers: the shape of a hung endpoint. The
/// thread stops and is joined when the handle drops.
pub struct SilentServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentServer {
    pub fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        SilentServer { port, stop, thread: Some(thread) }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
