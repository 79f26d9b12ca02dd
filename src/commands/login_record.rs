//! The login record (host names only, never a credential) that lets `logout` undo what `login` added.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::engine::Engine;

const STATE_FILE: &str = "ecr-ship-logins.json";

pub fn state_path(engine: &Engine) -> anyhow::Result<PathBuf> {
    let auth_file = engine.auth_file()?;
    let dir = auth_file.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    Ok(dir.join(STATE_FILE))
}

pub fn read_state(path: &Path) -> anyhow::Result<Vec<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let value: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("reading the login record {}", path.display()))?;
            Ok(value["hosts"].as_array().into_iter().flatten().filter_map(|h| h.as_str().map(String::from)).collect())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error).with_context(|| format!("reading the login record {}", path.display())),
    }
}

/// Adds `hosts` to the login record (host names only).
pub fn remember(engine: &Engine, hosts: &[String]) -> anyhow::Result<()> {
    let path = state_path(engine)?;
    let mut all = read_state(&path)?;
    for host in hosts {
        if !all.contains(host) {
            all.push(host.clone());
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, format!("{}\n", json!({ "hosts": all })))
        .with_context(|| format!("writing the login record {}", path.display()))
}
