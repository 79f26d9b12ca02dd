//! The token cache: one file per registry host and credentials identity under the user's cache folder
//! (`$XDG_CACHE_HOME/ecr-ship/tokens/`, else `~/.cache/ecr-ship/tokens/`), 0600 in a 0700 folder, replaced
//! atomically. The identity is a hash of the credentials' access key id (a role session has a key of its own), so
//! switching profiles or roles never serves another identity's token, and no key is written to disk. A token is
//! served only until a safety margin before ECR's `expiresAt`; concurrent misses share one GetAuthorizationToken
//! through the credential store's file lock; a corrupt or unreadable entry is a miss and is replaced.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aws::RegistryCredentials;
use crate::ci::EnvMap;
use crate::secret::Secret;

/// A token is not served within this long of its expiry: a pull or push that starts with it has this long to
/// finish its requests.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(15 * 60);

/// The cache folder of one user.
#[derive(Debug, Clone)]
pub struct TokenCache {
    dir: PathBuf,
}

/// A token the cache serves.
pub struct CachedToken {
    pub username: String,
    pub secret: Secret,
    /// True when this call asked GetAuthorizationToken, false when the cache answered.
    pub fetched: bool,
}

/// One file of the cache. The secret is the registry password, which is what the cache exists to keep.
#[derive(Serialize, Deserialize)]
struct Entry {
    host: String,
    identity: String,
    username: String,
    secret: String,
    issued_at: u64,
    expires_at: u64,
}

impl TokenCache {
    /// The cache of the user the environment names: `XDG_CACHE_HOME`, else `HOME/.cache`.
    pub fn locate(env: &EnvMap) -> anyhow::Result<TokenCache> {
        let var = |key: &str| env.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()).map(PathBuf::from);
        let base = var("XDG_CACHE_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|home| home.join(".cache")))
            .context("neither XDG_CACHE_HOME nor HOME is set, so there is no cache folder for the tokens")?;
        Ok(TokenCache { dir: base.join("ecr-ship/tokens") })
    }

    pub fn at(dir: PathBuf) -> TokenCache {
        TokenCache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, host: &str, identity: &str) -> PathBuf {
        let key = Sha256::digest(format!("{host}\n{identity}").as_bytes());
        self.dir.join(format!("{}.json", crate::digest::hex(&key[..16])))
    }

    /// The token for `host` and this identity, from the cache when one is there and fresh enough, else from
    /// `fetch`, stored for the next call. Misses wait for one another on the lock, so N concurrent calls make one
    /// `fetch`.
    pub async fn token<F, Fut>(&self, host: &str, access_key_id: &str, fetch: F) -> anyhow::Result<CachedToken>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<RegistryCredentials>>,
    {
        if let Some(token) = self.cached(host, access_key_id) {
            return Ok(token);
        }
        let identity = identity_hash(access_key_id);
        let file = self.file(host, &identity);
        let _lock = crate::engine::lock_store(&file).await?;
        if let Some(token) = read(&file, host, &identity, unix_now()) {
            return Ok(token);
        }
        let issued_at = unix_now();
        let fresh = fetch().await?;
        let expires_at = fresh.expires_at.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs());
        // A token without a future expiry is served once and never cached: nothing could say when it goes stale.
        if let Some(expires_at) = expires_at.filter(|at| *at > issued_at) {
            let entry = Entry {
                host: host.to_string(),
                identity,
                username: fresh.username.clone(),
                secret: fresh.password.expose().to_string(),
                issued_at,
                expires_at,
            };
            let text = serde_json::to_vec(&entry).context("serializing the token cache entry")?;
            crate::engine::write_private_file(&file, &text)?;
        }
        Ok(CachedToken { username: fresh.username, secret: fresh.password, fetched: true })
    }

    /// The token for `host` and this identity when the cache holds one fresh enough; no lock, since entries are
    /// replaced atomically and a miss goes on to [`TokenCache::token`].
    pub fn cached(&self, host: &str, access_key_id: &str) -> Option<CachedToken> {
        let identity = identity_hash(access_key_id);
        read(&self.file(host, &identity), host, &identity, unix_now())
    }

    /// The hosts with a token the cache would serve now (for `list`).
    pub fn hosts(&self) -> Vec<String> {
        let now = unix_now();
        let mut hosts: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path()).ok())
            .filter_map(|bytes| serde_json::from_slice::<Entry>(&bytes).ok())
            .filter(|entry| usable(entry, now))
            .map(|entry| entry.host)
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

/// The identity as the cache keeps it: a hash, never the key id itself.
fn identity_hash(access_key_id: &str) -> String {
    crate::digest::hex(&Sha256::digest(format!("ecr-ship credentials identity\n{access_key_id}").as_bytes()))
}

/// The entry of `file` when it is well-formed, for this host and identity, and fresh enough; anything else
/// (missing, unreadable, corrupt, another key's, stale) is a miss.
fn read(file: &Path, host: &str, identity: &str, now: u64) -> Option<CachedToken> {
    let bytes = std::fs::read(file).ok()?;
    let entry: Entry = serde_json::from_slice(&bytes).ok()?;
    (entry.host == host && entry.identity == identity && !entry.secret.is_empty() && usable(&entry, now))
        .then(|| CachedToken { username: entry.username, secret: Secret::new(entry.secret), fetched: false })
}

/// Fresh enough: more than the margin before its expiry. The margin is [`SAFETY_MARGIN`], or a quarter of the
/// token's lifetime when that is shorter (a short-lived token would otherwise never be served from the cache).
fn usable(entry: &Entry, now: u64) -> bool {
    let lifetime = entry.expires_at.saturating_sub(entry.issued_at);
    let margin = SAFETY_MARGIN.as_secs().min(lifetime / 4);
    entry.issued_at <= now.saturating_add(60) && now.saturating_add(margin) < entry.expires_at
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(issued_at: u64, expires_at: u64) -> Entry {
        Entry {
            host: "h".into(),
            identity: "i".into(),
            username: "AWS".into(),
            secret: "s".into(),
            issued_at,
            expires_at,
        }
    }

    #[test]
    fn a_token_is_served_until_the_margin_before_its_expiry() {
        let twelve_hours = 12 * 3600;
        let cases = [
            // (issued, expires, now, usable)
            (0, twelve_hours, 0, true),
            (0, twelve_hours, twelve_hours - 15 * 60 - 1, true),
            (0, twelve_hours, twelve_hours - 15 * 60, false),
            (0, twelve_hours, twelve_hours + 1, false),
            (1000, 1040, 1000, true),
            (1000, 1040, 1029, true),
            (1000, 1040, 1030, false),
            (1000, 1000, 1000, false),
            // issued in the future (a clock set back): not trusted
            (100_000, 200_000, 1000, false),
        ];
        for (issued, expires, now, expected) in cases {
            assert_eq!(usable(&entry(issued, expires), now), expected, "{issued} {expires} {now}");
        }
    }

    #[test]
    fn entries_are_keyed_by_host_and_identity_and_keep_no_key_id() {
        let cache = TokenCache::at(PathBuf::from("/c"));
        let a = cache.file("h1", &identity_hash("AKIAONE"));
        assert_ne!(a, cache.file("h2", &identity_hash("AKIAONE")));
        assert_ne!(a, cache.file("h1", &identity_hash("AKIATWO")));
        assert!(!identity_hash("AKIAONE").contains("AKIAONE"));
    }

    #[test]
    fn corrupt_other_and_stale_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("e.json");
        let now = unix_now();
        for bytes in [b"not json".to_vec(), b"{}".to_vec(), vec![0xff, 0xfe]] {
            std::fs::write(&file, bytes).unwrap();
            assert!(read(&file, "h", "i", now).is_none());
        }
        std::fs::write(&file, serde_json::to_vec(&entry(now, now + 3600)).unwrap()).unwrap();
        assert!(read(&file, "h", "i", now).is_some());
        assert!(read(&file, "other", "i", now).is_none());
        assert!(read(&file, "h", "other", now).is_none());
        assert!(read(&file, "h", "i", now + 3600).is_none());
    }

    #[test]
    fn the_cache_folder_follows_xdg_then_home() {
        let env =
            |pairs: &[(&str, &str)]| -> EnvMap { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        let at = |pairs: &[(&str, &str)]| TokenCache::locate(&env(pairs)).map(|c| c.dir().to_path_buf()).ok();
        assert_eq!(at(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]), Some(PathBuf::from("/x/ecr-ship/tokens")));
        assert_eq!(
            at(&[("XDG_CACHE_HOME", "relative"), ("HOME", "/h")]),
            Some(PathBuf::from("/h/.cache/ecr-ship/tokens"))
        );
        assert_eq!(at(&[("HOME", "/h")]), Some(PathBuf::from("/h/.cache/ecr-ship/tokens")));
        assert_eq!(at(&[]), None);
    }
}
