//! Logins remembered across processes: `ecr-ship login` records what it added so that a later `ecr-ship logout`,
//! another process, removes exactly that and puts back the credentials the user had for those hosts before.
//!
//! Secrets stay in the engine's own credential store. The record file `ecr-ship-logins.json` beside it holds host
//! names, the name of a credential helper, and the SHA-256 fingerprint of the credential the last login stored
//! (which tells it from a later login's; it reveals nothing of the token). An earlier `auths` entry that a login
//! replaced is parked in the same credential file under a reserved key, [`PARKED_PREFIX`]`<original key>`; an
//! earlier credential a docker credential helper held is parked in that helper under the reserved server URL. The
//! reserved name ends in `.invalid` (RFC 2606), so no engine ever sends it anywhere. Every change of the record and
//! of the store is made under the store's lock (`credstore::lock_store`), so concurrent logins lose nothing.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Map, Value, json};

use super::credstore::{
    HelperCredential, SUPERSEDED_PREFIX, Written, auth_of, credential_helper, edit_auths, fingerprint, lock_store,
    read_json_file, resolve_earlier, unix_now, write_private_file,
};
use super::{Engine, LoginRecord};

/// The record's file name, beside the engine's credential file.
const RECORD_FILE: &str = "ecr-ship-logins.json";
/// Where earlier credentials are parked inside the credential store.
pub const PARKED_PREFIX: &str = "ecr-ship-saved.invalid/";

impl Engine {
    /// Remembers one login for a later [`Engine::logout_remembered`]: its host in the record (with the fingerprint
    /// of the credential it stored, which tells it from a later login's at logout), the credentials it replaced
    /// parked in the credential store. A host already remembered keeps what was parked first (that is what the
    /// user had before ecr-ship). Called by [`Engine::login_remembered`] with the store's lock held.
    pub(super) async fn remember_locked(&self, login: &LoginRecord) -> anyhow::Result<()> {
        let path = self.record_path()?;
        let mut record = read_record(&path)?;
        match &login.written {
            Written::Entry(auth) => {
                record.fingerprints.insert(login.host.clone(), Value::String(fingerprint(auth)));
            }
            _ => {
                record.fingerprints.remove(&login.host);
            }
        }
        if !record.hosts.contains(&login.host) {
            record.hosts.push(login.host.clone());
            if !login.saved_entries.is_empty() {
                let parked: Map<String, Value> = login
                    .saved_entries
                    .iter()
                    .map(|(key, entry)| (format!("{PARKED_PREFIX}{key}"), entry.clone()))
                    .collect();
                edit_auths(&login.auth_file, |auths| auths.extend(parked))?;
            }
            if let Some(saved) = &login.saved_helper {
                let parked = HelperCredential {
                    helper: saved.helper.clone(),
                    server_url: format!("{PARKED_PREFIX}{}", saved.server_url),
                    username: saved.username.clone(),
                    secret: saved.secret.clone(),
                };
                self.helper_store(&parked).await.with_context(|| {
                    format!("{} login to {}: cannot keep the earlier credentials for logout", self.kind, login.host)
                })?;
                record.helpers.insert(login.host.clone(), json!({"helper": saved.helper, "server": saved.server_url}));
            }
        }
        write_record(&path, &record)
    }

    /// Undoes every remembered login: logs the engine out of each host, puts back the credentials parked for it,
    /// and removes the record. Returns the hosts. With the engine's credentials file the entries are edited here:
    /// a host's entry is removed only while it is still the credential the last `ecr-ship login` stored (a push
    /// sharing the store may have logged in since, and keeps its credential; its own logout then puts back what
    /// the user had). With a credential helper the engine's own `logout` erases it.
    pub async fn logout_remembered(&self) -> anyhow::Result<Vec<String>> {
        let path = self.record_path()?;
        let auth_file = self.auth_file()?;
        let _lock = lock_store(&auth_file).await?;
        let record = read_record(&path)?;
        for host in &record.hosts {
            let key_of_host = |key: &str| super::credstore::host_keys(host).iter().any(|k| k == key);
            let config = read_json_file(&auth_file)?;
            let parked: Map<String, Value> = config
                .get("auths")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(key, entry)| Some((key.strip_prefix(PARKED_PREFIX)?.to_string(), entry.clone())))
                .filter(|(key, _)| key_of_host(key))
                .collect();
            if credential_helper(&config, host).is_none() && !record.helpers.contains_key(host) {
                let ours = record.fingerprints.get(host).and_then(Value::as_str);
                edit_auths(&auth_file, |auths| {
                    for key in parked.keys() {
                        auths.remove(&format!("{PARKED_PREFIX}{key}"));
                    }
                    let current = auth_of(auths.get(host.as_str())).map(fingerprint);
                    let earlier = resolve_earlier(auths, parked.get(host.as_str()).cloned());
                    match (ours, current) {
                        // Another login stored its credential since: it stays, and its logout is told what to
                        // put back instead of ours.
                        (Some(ours), Some(current)) if ours != current => {
                            let note = format!("{SUPERSEDED_PREFIX}{ours}/{}", unix_now());
                            auths.insert(note, earlier.unwrap_or_else(|| Value::Object(Map::new())));
                        }
                        _ => match earlier {
                            Some(entry) => {
                                auths.insert(host.clone(), entry);
                            }
                            None => {
                                auths.remove(host.as_str());
                            }
                        },
                    }
                })
                .with_context(|| format!("{} logout from {host}: cannot restore the earlier credentials", self.kind))?;
                continue;
            }
            self.logout_host(host).await?;
            if !parked.is_empty() {
                edit_auths(&auth_file, |auths| {
                    for (key, entry) in parked {
                        auths.remove(&format!("{PARKED_PREFIX}{key}"));
                        auths.insert(key, entry);
                    }
                })
                .with_context(|| format!("{} logout from {host}: cannot restore the earlier credentials", self.kind))?;
            }
            if let Some(saved) = record.helpers.get(host) {
                let helper = saved["helper"].as_str().unwrap_or_default();
                let server = saved["server"].as_str().unwrap_or(host);
                let reserved = format!("{PARKED_PREFIX}{server}");
                if let Some(credential) = self.helper_get(helper, &reserved).await? {
                    let original = HelperCredential { server_url: server.to_string(), ..credential };
                    self.helper_store(&original).await?;
                }
                self.helper_erase(helper, &reserved).await?;
            }
        }
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
        Ok(record.hosts)
    }

    /// The record file, beside the engine's credential file.
    pub fn record_path(&self) -> anyhow::Result<PathBuf> {
        let auth_file = self.auth_file()?;
        let dir = auth_file.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        Ok(dir.join(RECORD_FILE))
    }
}

#[derive(Default)]
struct Record {
    hosts: Vec<String>,
    /// Per host: the credential helper that held its earlier credential, and the server URL it was stored under.
    helpers: Map<String, Value>,
    /// Per host: the [`fingerprint`] of the credential the last remembered login stored in the credentials file.
    fingerprints: Map<String, Value>,
}

fn read_record(path: &Path) -> anyhow::Result<Record> {
    let what = || format!("reading the login record {}", path.display());
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let value: Value = serde_json::from_str(&text).with_context(what)?;
            let hosts = value["hosts"].as_array().into_iter().flatten().filter_map(Value::as_str);
            let helpers = value["helpers"].as_object().cloned().unwrap_or_default();
            let fingerprints = value["fingerprints"].as_object().cloned().unwrap_or_default();
            Ok(Record { hosts: hosts.map(String::from).collect(), helpers, fingerprints })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Record::default()),
        Err(error) => Err(error).with_context(what),
    }
}

fn write_record(path: &Path, record: &Record) -> anyhow::Result<()> {
    let mut value = json!({ "hosts": record.hosts });
    if !record.helpers.is_empty() {
        value["helpers"] = Value::Object(record.helpers.clone());
    }
    if !record.fingerprints.is_empty() {
        value["fingerprints"] = Value::Object(record.fingerprints.clone());
    }
    write_private_file(path, format!("{value}\n").as_bytes())
        .with_context(|| format!("writing the login record {}", path.display()))
}
