//! A podman set-up isolated in a scratch dir, configured the way a user would configure podman: through
//! `CONTAINERS_STORAGE_CONF` (vfs storage, own graph root and run root), `CONTAINERS_CONF` (cgroupfs, file events,
//! own tmp dir), `CONTAINERS_REGISTRIES_CONF` (the test registry marked insecure, since it speaks plain HTTP) and
//! `REGISTRY_AUTH_FILE`. podman is daemonless, so there is no process to stop; every podman call ends on its own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub struct Podman {
    pub dir: tempfile::TempDir,
}

impl Podman {
    /// A fresh store; `insecure_registries` are `host:port` names podman may reach over plain HTTP.
    pub fn new(insecure_registries: &[&str]) -> Podman {
        let dir = super::scratch_dir("podman");
        let root = dir.path();
        for sub in ["root", "run", "tmp", "home"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir podman dirs");
        }
        let storage =
            format!("[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/root\"\nrunroot = \"{0}/run\"\n", root.display());
        std::fs::write(root.join("storage.conf"), storage).expect("write storage.conf");
        let containers = format!(
            "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \
             \"{0}/events.log\"\ntmp_dir = \"{0}/tmp\"\n",
            root.display()
        );
        std::fs::write(root.join("containers.conf"), containers).expect("write containers.conf");
        let mut registries = String::from("unqualified-search-registries = []\n");
        for host in insecure_registries {
            registries.push_str(&format!("[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"));
        }
        std::fs::write(root.join("registries.conf"), registries).expect("write registries.conf");
        Podman { dir }
    }

    pub fn auth_file(&self) -> PathBuf {
        self.dir.path().join("auth.json")
    }

    /// The environment podman runs with: PATH, a scratch HOME (so no real `~/.docker/config.json` or
    /// `~/.config/containers` is read) and the four configuration variables.
    pub fn env(&self) -> BTreeMap<String, String> {
        let root = self.dir.path();
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        env.insert("HOME".into(), root.join("home").display().to_string());
        env.insert("CONTAINERS_STORAGE_CONF".into(), root.join("storage.conf").display().to_string());
        env.insert("CONTAINERS_CONF".into(), root.join("containers.conf").display().to_string());
        env.insert("CONTAINERS_REGISTRIES_CONF".into(), root.join("registries.conf").display().to_string());
        env.insert("REGISTRY_AUTH_FILE".into(), self.auth_file().display().to_string());
        env
    }

    pub fn podman(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .args(args)
            .env_clear()
            .envs(self.env())
            .stdin(Stdio::null())
            .output()
            .expect("run podman")
    }

    /// Builds `tag` from scratch out of the given files (nothing is pulled).
    pub fn build_scratch_image(&self, tag: &str, files: &[(&str, &[u8])]) {
        let context = super::dockerd::write_scratch_context(self.dir.path(), tag, files);
        let file = context.join("Containerfile").display().to_string();
        let output = self.podman(&["build", "-q", "-t", tag, "-f", &file, &context.display().to_string()]);
        assert!(output.status.success(), "podman build {tag}: {}", String::from_utf8_lossy(&output.stderr));
    }
}
