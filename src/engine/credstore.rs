//! The engine's credential store: where each engine keeps registry credentials ([`Engine::auth_file`]); writing a
//! login's credential there the way `docker login` / `podman login` store it (an `auths` entry written atomically
//! into `config.json` / `auth.json`, or a docker credential helper), so a login needs no engine process and no
//! network; and saving and restoring the `auths` entries and credential-helper entries a login replaces, so a
//! logout can put back what the user had ([`LoginRecord`]). Every read-change-write of a store (and of its login
//! record) holds one file lock ([`lock_store`]), and a logout removes only the credential its own login stored.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use serde_json::{Map, Value};

use super::process::{Scrubber, find_program};
use super::{Engine, EngineKind, Secret};
use crate::files::parent_dir;

/// What one successful [`Engine::login`] changed, so [`Engine::logout`] can undo exactly that.
pub struct LoginRecord {
    pub(super) kind: EngineKind,
    pub(super) host: String,
    /// The credentials file the engine writes for this host (docker `config.json` or podman `auth.json`).
    pub(super) auth_file: PathBuf,
    /// Entries under `auths` for this host (also its `http://`/`https://` spellings, which `docker logout` removes
    /// too) as they were before login. Empty when the run added the host's only entry.
    pub(super) saved_entries: Map<String, Value>,
    /// A credential a docker credential helper held for this host before login (login overwrote it).
    pub(super) saved_helper: Option<HelperCredential>,
    /// What this login stored, so that logout removes it only while it is still there: a later login (another
    /// push sharing the store) may have replaced it, and its credential is not this run's to remove.
    pub(super) written: Written,
}

/// What one login stored for its host.
pub(super) enum Written {
    /// The `auth` value of the host's `auths` entry (base64 of `user:password`).
    Entry(String),
    /// The secret given to a docker credential helper (config.json holds an empty entry for the host).
    Helper { helper: String, secret: Secret },
    /// podman's own `login` stored it through its credential helper; what it holds is podman's to say.
    Engine,
}

impl LoginRecord {
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn auth_file(&self) -> &Path {
        &self.auth_file
    }

    /// True when the host already had credentials before this run's login, which logout will put back.
    pub fn replaced_existing(&self) -> bool {
        !self.saved_entries.is_empty() || self.saved_helper.is_some()
    }
}

impl fmt::Debug for LoginRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Saved entries are credentials: show which keys only.
        f.debug_struct("LoginRecord")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("auth_file", &self.auth_file)
            .field("saved_entries", &self.saved_entries.keys().collect::<Vec<_>>())
            .field("saved_helper", &self.saved_helper.as_ref().map(|h| &h.helper))
            .finish()
    }
}

pub(super) struct HelperCredential {
    pub(super) helper: String,
    pub(super) server_url: String,
    pub(super) username: String,
    pub(super) secret: Secret,
}

impl Engine {
    /// The file this engine keeps registry credentials in, resolved the way the engine resolves it.
    pub fn auth_file(&self) -> anyhow::Result<PathBuf> {
        let var = |key: &str| self.env.get(key).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home =
            || var("HOME").or_else(|| var("USERPROFILE")).ok_or_else(|| anyhow!("neither HOME nor USERPROFILE is set"));
        match self.kind {
            // docker/cli config.Dir(): DOCKER_CONFIG, else ~/.docker.
            EngineKind::Docker => {
                Ok(var("DOCKER_CONFIG").map_or_else(|| home().map(|h| h.join(".docker")), Ok)?.join("config.json"))
            }
            // containers/image pkg/docker/config: REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
            // else /run/containers/<uid>/auth.json on Linux and ~/.config/containers/auth.json elsewhere.
            EngineKind::Podman => {
                if let Some(file) = var("REGISTRY_AUTH_FILE") {
                    return Ok(file);
                }
                if let Some(runtime) = var("XDG_RUNTIME_DIR") {
                    return Ok(runtime.join("containers/auth.json"));
                }
                #[cfg(target_os = "linux")]
                {
                    use std::os::unix::fs::MetadataExt;
                    let uid = std::fs::metadata("/proc/self").context("reading our user id from /proc/self")?.uid();
                    Ok(PathBuf::from(format!("/run/containers/{uid}/auth.json")))
                }
                #[cfg(not(target_os = "linux"))]
                {
                    Ok(home()?.join(".config/containers/auth.json"))
                }
            }
        }
    }

    /// Reads what a docker credential helper holds for `host`; `None` when it holds nothing.
    pub(super) async fn helper_get(&self, helper: &str, host: &str) -> anyhow::Result<Option<HelperCredential>> {
        let program = self.helper_program(helper)?;
        let captured = self.run_program(&program, &["get"], Some(host.as_bytes()), &Scrubber::none()).await?;
        if !captured.success {
            // The helper protocol's "nothing stored" answer (docker-credential-helpers credentials.ErrCredentialsNotFound).
            if captured.stdout.contains("credentials not found") || captured.stderr.contains("credentials not found") {
                return Ok(None);
            }
            bail!("docker-credential-{helper} get {host} failed ({})", captured.helper_reason());
        }
        let reply: Value = serde_json::from_str(&captured.stdout)
            .map_err(|e| anyhow!("docker-credential-{helper} get {host} answered with invalid JSON: {e}"))?;
        let field = |name: &str| reply.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(Some(HelperCredential {
            helper: helper.to_string(),
            server_url: {
                let url = field("ServerURL");
                if url.is_empty() { host.to_string() } else { url }
            },
            username: field("Username"),
            secret: Secret::new(field("Secret")),
        }))
    }

    /// Stores a credential in a docker credential helper (a login's new one, or a saved one put back), the secret
    /// on the helper's stdin only.
    pub(super) async fn helper_store(&self, credential: &HelperCredential) -> anyhow::Result<()> {
        let program = self.helper_program(&credential.helper)?;
        let payload = serde_json::json!({
            "ServerURL": credential.server_url,
            "Username": credential.username,
            "Secret": credential.secret.expose(),
        })
        .to_string();
        let scrub = Scrubber::new(&credential.username, &credential.secret);
        let captured = self.run_program(&program, &["store"], Some(payload.as_bytes()), &scrub).await?;
        if !captured.success {
            bail!(
                "docker-credential-{} store {} failed ({})",
                credential.helper,
                credential.server_url,
                captured.helper_reason()
            );
        }
        Ok(())
    }

    /// Stores a docker login's credential through `helper` as docker/cli's native store does: the secret goes to
    /// the helper, and `config.json` gets an empty `auths` entry for the host in place of any earlier one, so no
    /// stale `auth` there outranks the helper's.
    pub(super) async fn store_login_in_helper(
        &self,
        auth_file: &Path,
        helper: &str,
        host: &str,
        username: &str,
        password: &Secret,
    ) -> anyhow::Result<()> {
        let credential = HelperCredential {
            helper: helper.to_string(),
            server_url: host.to_string(),
            username: username.to_string(),
            secret: password.clone(),
        };
        self.helper_store(&credential).await?;
        edit_auths(auth_file, |auths| {
            auths.insert(host.to_string(), Value::Object(Map::new()));
        })
    }

    /// Removes what a docker credential helper holds for `server_url`; nothing stored counts as done.
    pub(super) async fn helper_erase(&self, helper: &str, server_url: &str) -> anyhow::Result<()> {
        let program = self.helper_program(helper)?;
        let captured = self.run_program(&program, &["erase"], Some(server_url.as_bytes()), &Scrubber::none()).await?;
        let nothing =
            captured.stdout.contains("credentials not found") || captured.stderr.contains("credentials not found");
        if !captured.success && !nothing {
            bail!("docker-credential-{helper} erase {server_url} failed ({})", captured.helper_reason());
        }
        Ok(())
    }

    pub(super) fn helper_program(&self, helper: &str) -> anyhow::Result<PathBuf> {
        let name = format!("docker-credential-{helper}");
        find_program(&name, &self.env).ok_or_else(|| anyhow!("the credential helper {name} is not on PATH"))
    }
}

/// Reads a JSON credentials file; a missing or empty file is an empty object.
pub(super) fn read_json_file(path: &Path) -> anyhow::Result<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(Value::Object(Map::new())),
        Ok(text) => serde_json::from_str(&text).map_err(|e| anyhow!("{} is not valid JSON: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Object(Map::new())),
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// The spellings of a host both engines match when reading credentials and `docker logout` removes.
pub(super) fn host_keys(host: &str) -> [String; 3] {
    [host.to_string(), format!("https://{host}"), format!("http://{host}")]
}

pub(super) fn host_entries(config: &Value, host: &str) -> Map<String, Value> {
    let mut entries = Map::new();
    if let Some(auths) = config.get("auths").and_then(Value::as_object) {
        for key in host_keys(host) {
            if let Some(entry) = auths.get(&key) {
                entries.insert(key, entry.clone());
            }
        }
    }
    entries
}

/// The docker credential helper that holds this host's credentials (`credHelpers` beats `credsStore`), if any.
pub(super) fn credential_helper(config: &Value, host: &str) -> Option<String> {
    let named = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    named(config.get("credHelpers").and_then(|h| h.get(host))).or_else(|| named(config.get("credsStore")))
}

/// Writes a login's credential into the credentials file as both engines store it without a helper:
/// `auths[host] = {"auth": base64(username:password)}`, replacing the host's entry and nothing else. Returns the
/// `auth` value, which tells this run's entry from another's at logout.
pub(super) fn store_login_in_file(
    path: &Path,
    host: &str,
    username: &str,
    password: &Secret,
) -> anyhow::Result<String> {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()));
    edit_auths(path, |auths| {
        auths.insert(host.to_string(), serde_json::json!({ "auth": auth }));
    })?;
    Ok(auth)
}

/// Writes saved `auths` entries back into the credentials file, leaving everything else in it as it is now.
pub(super) fn restore_entries(path: &Path, saved: &Map<String, Value>) -> anyhow::Result<()> {
    edit_auths(path, |auths| auths.extend(saved.iter().map(|(key, entry)| (key.clone(), entry.clone()))))
}

/// Changes the `auths` map of a credentials file in place, leaving everything else in it as it is (but for notes
/// of [`release_entry`] that have outlived any token they could concern). Callers hold the [`StoreLock`].
pub(super) fn edit_auths(path: &Path, change: impl FnOnce(&mut Map<String, Value>)) -> anyhow::Result<()> {
    let mut config = read_json_file(path)?;
    let Some(root) = config.as_object_mut() else {
        bail!("{} does not hold a JSON object; fix or move the file", path.display())
    };
    let auths = root.entry("auths").or_insert_with(|| Value::Object(Map::new()));
    let Some(auths) = auths.as_object_mut() else {
        bail!("'auths' in {} is not a JSON object; fix or move the file", path.display())
    };
    let now = unix_now();
    auths.retain(|key, _| !note_expired(key, now));
    change(auths);
    let mut text = serde_json::to_string_pretty(&config).context("serializing credentials")?;
    text.push('\n');
    write_private_file(path, text.as_bytes())
}

/// The lock file beside a credential store (and its login record).
const LOCK_FILE: &str = ".ecr-ship.lock";

/// An exclusive lock on one credential store and its login record, released when dropped.
pub(crate) struct StoreLock {
    _file: std::fs::File,
}

/// Takes the lock every change of the credential store `auth_file` and of its login record is made under: an
/// exclusive `flock` on `.ecr-ship.lock` beside it, so ecr-ship runs sharing one docker config (parallel jobs on a
/// runner) never lose each other's entries. The wait polls without blocking a thread, so the time limit and
/// signals still end it.
pub(crate) async fn lock_store(auth_file: &Path) -> anyhow::Result<StoreLock> {
    let dir = parent_dir(auth_file);
    create_private_dir(dir)?;
    let path = dir.join(LOCK_FILE);
    if std::fs::symlink_metadata(&path).is_ok_and(|meta| !meta.file_type().is_file()) {
        bail!("{} is not a regular file; remove it (ecr-ship keeps an empty lock file there)", path.display());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path).map_err(|e| anyhow!("cannot open the lock file {}: {e}", path.display()))?;
    let step = std::time::Duration::from_millis(10);
    let mut waited = std::time::Duration::ZERO;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(StoreLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                if waited == std::time::Duration::from_secs(5) {
                    crate::log::info(format!("waiting for another ecr-ship run to release {}", path.display()));
                }
                tokio::time::sleep(step).await;
                waited += step;
            }
            Err(std::fs::TryLockError::Error(e)) => bail!("cannot lock {}: {e}", path.display()),
        }
    }
}

/// Where an entry a run replaced waits for that run's logout when the run that wrote it logs out first:
/// `SUPERSEDED_PREFIX<fingerprint of the credential it replaced>/<unix time>`. Like [`super::remembered::PARKED_PREFIX`]
/// the name ends in `.invalid` (RFC 2606), so no engine ever sends it anywhere.
pub(super) const SUPERSEDED_PREFIX: &str = "ecr-ship-superseded.invalid/";
/// How long such a note is kept: an ECR token lives 12 hours, so after that there is nothing left to hand back.
const NOTE_LIFETIME_SECS: u64 = 12 * 60 * 60;

pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn note_expired(key: &str, now: u64) -> bool {
    let Some(rest) = key.strip_prefix(SUPERSEDED_PREFIX) else { return false };
    let written = rest.rsplit('/').next().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
    written.saturating_add(NOTE_LIFETIME_SECS) < now
}

/// Names a credential (an entry's `auth` value) without holding it: the SHA-256 of it, in hex.
pub(super) fn fingerprint(auth: &str) -> String {
    use sha2::Digest as _;
    crate::digest::hex(sha2::Sha256::digest(auth.as_bytes()).as_slice())
}

/// An `auths` entry's `auth` value.
pub(super) fn auth_of(entry: Option<&Value>) -> Option<&str> {
    entry?.get("auth")?.as_str()
}

/// Takes this run's credential (`ours`, an `auth` value) for `host` out of `auths` while it is still the one there,
/// putting back the entry it replaced (`earlier`; none: the host had no entry), or rather what that entry's own run
/// replaced if that run has logged out since ([`resolve_earlier`]). When another login has replaced this run's
/// credential meanwhile, that one stays: it is another run's, in use. A note then tells that run's logout to put
/// back `earlier` instead of this run's credential.
pub(super) fn release_entry(auths: &mut Map<String, Value>, host: &str, ours: &str, earlier: Option<Value>) {
    let earlier = resolve_earlier(auths, earlier);
    match auth_of(auths.get(host)) {
        Some(current) if current == ours => match earlier {
            Some(entry) => {
                auths.insert(host.to_string(), entry);
            }
            None => {
                auths.remove(host);
            }
        },
        Some(_) => {
            let note = format!("{SUPERSEDED_PREFIX}{}/{}", fingerprint(ours), unix_now());
            auths.insert(note, earlier.unwrap_or_else(|| Value::Object(Map::new())));
        }
        // Gone already (someone logged out by hand): nothing of this run's is left to remove.
        None => {}
    }
}

/// The entry to put back for a host: `earlier`, unless the run that wrote it has logged out and left a note of
/// what it had replaced, followed as far as such notes go (each note is used once and removed). A note of `{}`
/// means "no entry".
pub(super) fn resolve_earlier(auths: &mut Map<String, Value>, earlier: Option<Value>) -> Option<Value> {
    let mut entry = earlier;
    // Each note is removed as it is followed, so this ends; the bound only guards a hand-edited file.
    for _ in 0..64 {
        let Some(print) = auth_of(entry.as_ref()).map(fingerprint) else { break };
        let prefix = format!("{SUPERSEDED_PREFIX}{print}/");
        let Some(key) = auths.keys().find(|key| key.starts_with(&prefix)).cloned() else { break };
        entry = auths.remove(&key).filter(|note| note.as_object().is_none_or(|o| !o.is_empty()));
    }
    entry
}

/// Replaces a file through a sibling temporary file and a rename, so a crash never leaves half a credentials file.
/// A new file is readable by its owner only, as the engines write it, in a directory made 0700; an existing file
/// keeps its owner's permissions and loses any for group and others (a credentials file is its owner's alone), and
/// a symlinked one stays a symlink (the write goes to its target, as docker/cli's does; a link into a directory
/// that does not exist is refused, not followed by creating that directory). The temporary name has a random
/// suffix and is created with O_EXCL (`create_new`), so a file or symlink planted under a guessable name is never
/// followed.
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let target = symlink_target(path)?;
    let dir = parent_dir(&target);
    if target.as_path() == path {
        create_private_dir(dir)?;
    } else if !dir.is_dir() {
        bail!(
            "{} is a symlink to {}, whose directory does not exist; ecr-ship does not create it: point the link at \
             an existing directory, or remove the link",
            path.display(),
            target.display()
        );
    }
    let path = &target;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (temporary, mut file) = crate::files::create_sibling(dir, &name)
        .with_context(|| format!("cannot create a temporary file beside {}", path.display()))?;
    let result = file
        .write_all(bytes)
        .and_then(|()| owner_only_permissions(path, &file))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temporary);
        bail!("cannot write {}: {e}", path.display());
    }
    Ok(())
}

/// The file a possibly symlinked path finally names (a relative link is relative to the link's directory), so a
/// rename replaces the target and not the link.
fn symlink_target(path: &Path) -> anyhow::Result<PathBuf> {
    crate::files::final_target(path)
        .with_context(|| format!("cannot follow the symlink {}; point it at a regular file", path.display()))
}

/// Creates `dir` and its missing parents readable by the owner only, as docker/cli and containers/image do.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| anyhow!("cannot create the directory {}: {e}; check that its parent is writable", dir.display()))
}

/// Gives the replacement the owner's permissions of the file it replaces and none for group or others, so an
/// existing 0644 config.json becomes 0600 once it holds a credential; a new file stays 0600.
fn owner_only_permissions(original: &Path, replacement: &std::fs::File) -> std::io::Result<()> {
    match std::fs::metadata(original) {
        #[cfg(unix)]
        Ok(meta) => {
            use std::os::unix::fs::PermissionsExt;
            let owner = meta.permissions().mode() & 0o700;
            replacement.set_permissions(std::fs::Permissions::from_mode(if owner == 0 { 0o600 } else { owner }))
        }
        #[cfg(not(unix))]
        Ok(meta) => replacement.set_permissions(meta.permissions()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_0600_through_a_fresh_random_temporary_that_follows_no_planted_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        // The name the old writer used: a link planted there must not be followed.
        let planted = dir.path().join(format!(".config.json.ecr-ship-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let target = dir.path().join("config.json");
        write_private_file(&target, b"{\"auths\":{}}").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{\"auths\":{}}");
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep", "the planted link was not followed");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.contains("ecr-ship-") && !n.ends_with(&std::process::id().to_string()))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left: {leftovers:?}");
    }

    #[test]
    fn entries_for_all_spellings_of_a_host() {
        let config = serde_json::json!({"auths": {"h:1": {"auth": "x"}, "https://h:1": {"auth": "y"}, "h:2": {}}});
        let entries = host_entries(&config, "h:1");
        assert_eq!(entries.keys().collect::<Vec<_>>(), ["h:1", "https://h:1"]);
        assert_eq!(credential_helper(&serde_json::json!({"credsStore": "pass"}), "h"), Some("pass".into()));
        assert_eq!(
            credential_helper(&serde_json::json!({"credsStore": "pass", "credHelpers": {"h": "ecr-login"}}), "h"),
            Some("ecr-login".into())
        );
    }
}
