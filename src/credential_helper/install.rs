//! `ecr-ship credential-helper install` and `uninstall`: the `docker-credential-ecr-ship` link to this binary, and
//! `credHelpers` entries naming it for the given registries in docker's `config.json` (`DOCKER_CONFIG`, else
//! `~/.docker`) and in containers' `auth.json` (`REGISTRY_AUTH_FILE`, else `~/.config/containers/auth.json`, the
//! persistent one podman, buildah and skopeo read; the one under `XDG_RUNTIME_DIR` is gone at the next boot). Each
//! file is changed under the credential store's lock and replaced atomically, every other entry kept. What each
//! entry held before is recorded beside the file (`ecr-ship-credential-helper.json`), so `uninstall` puts back
//! exactly that, and only where the entry still names ecr-ship.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use crate::ci::EnvMap;
use crate::cli::HELPER_PROGRAM;

/// The helper's name in `credHelpers` (docker runs `docker-credential-<name>`).
pub const HELPER_NAME: &str = "ecr-ship";
/// The record of replaced entries, beside each config file.
const RECORD: &str = "ecr-ship-credential-helper.json";

/// The config files the engines read `credHelpers` from, as this environment names them.
pub fn config_files(env: &EnvMap) -> anyhow::Result<Vec<PathBuf>> {
    let var = |key: &str| env.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = var("HOME").context("HOME is not set, so the engines' config files cannot be found");
    let docker = match var("DOCKER_CONFIG") {
        Some(dir) => dir.join("config.json"),
        None => home.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?.join(".docker/config.json"),
    };
    let containers = match var("REGISTRY_AUTH_FILE") {
        Some(file) => file,
        None => home.map_err(|e| anyhow::anyhow!("{e}"))?.join(".config/containers/auth.json"),
    };
    Ok(vec![docker, containers])
}

/// Where the link goes: the directory given, else the one this binary is in.
pub fn link_path(link_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match link_dir {
        Some(dir) => dir.to_path_buf(),
        None => own_binary()?.parent().map(Path::to_path_buf).context("this binary's path has no directory")?,
    };
    Ok(dir.join(HELPER_PROGRAM))
}

fn own_binary() -> anyhow::Result<PathBuf> {
    std::env::current_exe().and_then(|p| p.canonicalize()).context("finding this binary's own path")
}

/// Makes the link to this binary; one that is already there and points here is kept.
pub fn make_link(link: &Path) -> anyhow::Result<()> {
    let binary = own_binary()?;
    if std::fs::symlink_metadata(link).is_ok() {
        if link.canonicalize().is_ok_and(|target| target == binary) {
            return Ok(());
        }
        bail!(
            "{} exists and is not a link to this ecr-ship ({}); remove it, or name another directory with --link-dir",
            link.display(),
            binary.display()
        );
    }
    std::os::unix::fs::symlink(&binary, link)
        .with_context(|| format!("cannot create the link {} to {}", link.display(), binary.display()))
}

/// Removes the link when it points to this binary; anything else there is left alone. True when removed.
pub fn remove_link(link: &Path) -> anyhow::Result<bool> {
    let ours = std::fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink())
        && link.canonicalize().ok() == own_binary().ok();
    if ours {
        std::fs::remove_file(link).with_context(|| format!("cannot remove the link {}", link.display()))?;
    }
    Ok(ours)
}

/// Names the helper for `hosts` in `file`, recording what each entry held before (once: a second install keeps
/// the first record, so uninstall still restores the state before ecr-ship).
pub async fn name_helper(file: &Path, hosts: &[String]) -> anyhow::Result<()> {
    let _lock = crate::engine::lock_store(file).await?;
    let mut config = read_object(file)?;
    let mut record = read_record(file)?;
    let had_helpers = config.contains_key("credHelpers");
    let helpers = helpers_of(&mut config, file)?;
    let recorded = record.entry("entries").or_insert_with(|| Value::Object(Map::new()));
    let Some(recorded) = recorded.as_object_mut() else {
        bail!("{} is damaged; remove it", record_path(file).display())
    };
    for host in hosts {
        if !recorded.contains_key(host) {
            recorded.insert(host.clone(), helpers.get(host).cloned().unwrap_or(Value::Null));
        }
        helpers.insert(host.clone(), Value::from(HELPER_NAME));
    }
    record.entry("had_cred_helpers").or_insert(Value::Bool(had_helpers));
    write_json(&record_path(file), &Value::Object(record))?;
    write_json(file, &Value::Object(config))
}

/// Puts back what [`name_helper`] replaced in `file`, for the recorded hosts that still name ecr-ship, and
/// removes the record. Returns the hosts restored.
pub async fn restore(file: &Path) -> anyhow::Result<Vec<String>> {
    let _lock = crate::engine::lock_store(file).await?;
    let record = read_record(file)?;
    let Some(entries) = record.get("entries").and_then(Value::as_object) else { return Ok(Vec::new()) };
    let mut config = read_object(file)?;
    let helpers = helpers_of(&mut config, file)?;
    let mut restored = Vec::new();
    for (host, earlier) in entries {
        if helpers.get(host).and_then(Value::as_str) != Some(HELPER_NAME) {
            continue;
        }
        match earlier {
            Value::Null => helpers.remove(host),
            earlier => helpers.insert(host.clone(), earlier.clone()),
        };
        restored.push(host.clone());
    }
    let drop_helpers = helpers.is_empty() && record.get("had_cred_helpers") == Some(&Value::Bool(false));
    if drop_helpers {
        config.remove("credHelpers");
    }
    write_json(file, &Value::Object(config))?;
    std::fs::remove_file(record_path(file))
        .with_context(|| format!("cannot remove {}", record_path(file).display()))?;
    Ok(restored)
}

fn record_path(file: &Path) -> PathBuf {
    file.parent().unwrap_or(Path::new(".")).join(RECORD)
}

fn read_record(file: &Path) -> anyhow::Result<Map<String, Value>> {
    read_object(&record_path(file))
}

/// A JSON object file; a missing or empty one is an empty object.
fn read_object(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let value = match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Value::Object(Map::new()),
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not valid JSON ({e}); fix or move the file", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Object(Map::new()),
        Err(e) => bail!("cannot read {}: {e}", path.display()),
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => bail!("{} does not hold a JSON object; fix or move the file", path.display()),
    }
}

fn helpers_of<'a>(config: &'a mut Map<String, Value>, file: &Path) -> anyhow::Result<&'a mut Map<String, Value>> {
    config
        .entry("credHelpers")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .with_context(|| format!("'credHelpers' in {} is not a JSON object; fix or move the file", file.display()))
}

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("serializing JSON")?;
    text.push('\n');
    crate::engine::write_private_file(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn install_then_uninstall_puts_back_exactly_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        let before = serde_json::json!({
            "auths": {"ghcr.io": {"auth": "eDp5"}},
            "credHelpers": {"a.example": "other", "h1": "previous"},
            "psFormat": "table"
        });
        std::fs::write(&file, before.to_string()).unwrap();
        let hosts = vec!["h1".to_string(), "h2".to_string()];
        name_helper(&file, &hosts).await.unwrap();
        name_helper(&file, &hosts).await.unwrap();
        let during: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(
            during["credHelpers"],
            serde_json::json!({"a.example": "other", "h1": "ecr-ship", "h2": "ecr-ship"})
        );
        assert_eq!(during["auths"], before["auths"]);
        assert_eq!(during["psFormat"], "table");
        assert_eq!(restore(&file).await.unwrap(), hosts);
        let after: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(after, before);
        assert!(!record_path(&file).exists());

        let fresh = dir.path().join("new/auth.json");
        name_helper(&fresh, &hosts).await.unwrap();
        restore(&fresh).await.unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap().trim(), "{}");
    }
}
