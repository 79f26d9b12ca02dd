//! The docker/podman verbs: login (the credential written straight into the engine's store, or through its stdin
//! only), logout, and the local image steps of a push — check, read repo digests, tag, push (returning the digest
//! the registry stored) and untag.

use anyhow::{Context, anyhow, bail};

use super::credstore::{
    Written, credential_helper, edit_auths, host_entries, lock_store, read_json_file, release_entry, restore_entries,
    store_login_in_file,
};
use super::process::{Scrubber, TempPath};
use super::{Engine, EngineKind, LoginRecord, PushedDigest, Secret};
use crate::bail_input;

impl Engine {
    /// Logs in to `host` (a bare `host[:port]`; a leading `https://`, as in ECR's `proxyEndpoint`, is removed
    /// because podman rejects it) by writing the credential where and as the engine's own login stores it: the
    /// host's `auths` entry in the engine's credentials file, or docker's credential helper for the host. Nothing
    /// runs `docker login`/`podman login`, whose only extra is a daemon round trip and a registry handshake to
    /// verify a token ECR has just issued: that costs time and proves nothing a push would not (a bad token shows
    /// at push time as the registry's 401). Only podman with a credential helper named in its auth file still runs
    /// `podman login` (password on stdin), because podman's helper handling differs from docker's. The host's
    /// previous entry is saved first so that [`Engine::logout`] can put it back. The whole read-change-write holds
    /// the store's lock, so concurrent runs sharing the store keep each other's entries.
    pub async fn login(&self, host: &str, username: &str, password: &Secret) -> anyhow::Result<LoginRecord> {
        self.login_locked(host, username, password, false).await
    }

    /// [`Engine::login`], remembered for a later [`Engine::logout_remembered`] (`ecr-ship login`) under the same
    /// hold of the store's lock, so that of concurrent logins to one host the first records what the user had
    /// before, and no login is lost from the record.
    pub async fn login_remembered(&self, host: &str, username: &str, password: &Secret) -> anyhow::Result<LoginRecord> {
        self.login_locked(host, username, password, true).await
    }

    async fn login_locked(
        &self,
        host: &str,
        username: &str,
        password: &Secret,
        remember: bool,
    ) -> anyhow::Result<LoginRecord> {
        let host = normalize_host(host)?;
        check_arg("user name", username)?;
        let engine = self.kind;
        let auth_file = self.auth_file().with_context(|| format!("{engine} login to {host}"))?;
        let _lock = lock_store(&auth_file).await.with_context(|| format!("{engine} login to {host}"))?;
        let config = read_json_file(&auth_file).with_context(|| {
            format!("{engine} login to {host}: cannot save the existing credentials in {} first", auth_file.display())
        })?;
        let saved_entries = host_entries(&config, &host);
        let helper = credential_helper(&config, &host);
        let saved_helper = match (self.kind, &helper) {
            (EngineKind::Docker, Some(helper)) => self
                .helper_get(helper, &host)
                .await
                .with_context(|| format!("{engine} login to {host}: cannot save the existing credentials first"))?,
            _ => None,
        };
        let written = match (self.kind, helper) {
            (EngineKind::Docker, Some(helper)) => {
                let stored = self.store_login_in_helper(&auth_file, &helper, &host, username, password).await;
                stored.with_context(|| {
                    format!("{engine} login to {host}: docker-credential-{helper} did not store it")
                })?;
                Written::Helper { helper, secret: password.clone() }
            }
            (EngineKind::Podman, Some(_)) => {
                self.engine_login(&host, username, password).await?;
                Written::Engine
            }
            (_, None) => {
                Written::Entry(store_login_in_file(&auth_file, &host, username, password).with_context(|| {
                    format!(
                        "{engine} login to {host}: cannot store the credentials in {} (check that this user may \
                         write it)",
                        auth_file.display()
                    )
                })?)
            }
        };
        let record = LoginRecord { kind: self.kind, host, auth_file, saved_entries, saved_helper, written };
        if remember {
            self.remember_locked(&record).await?;
        }
        Ok(record)
    }

    /// The engine's own `login` verb, password on stdin only.
    async fn engine_login(&self, host: &str, username: &str, password: &Secret) -> anyhow::Result<()> {
        let engine = self.kind;
        let scrub = Scrubber::new(username, password);
        let args = ["login", "--username", username, "--password-stdin", host];
        let captured = self.run(&args, Some(password.expose().as_bytes()), &scrub).await?;
        for line in captured.stdout.lines().chain(captured.stderr.lines()) {
            (self.progress)(line);
        }
        if !captured.success {
            bail!("{engine} login to {host} as {username} failed ({})", captured.reason());
        }
        Ok(())
    }

    /// Undoes the given logins, newest first: removes the entry each login added and puts back an entry that
    /// existed before it. Tries every record and reports all failures together.
    pub async fn logout(&self, records: &[LoginRecord]) -> anyhow::Result<()> {
        let mut failures = Vec::new();
        for record in records.iter().rev() {
            if let Err(error) = self.logout_one(record).await {
                failures.push(format!("{error:#}"));
            }
        }
        if failures.is_empty() { Ok(()) } else { bail!("{}", failures.join("; ")) }
    }

    /// Undoes one login while the credential it stored is still the one there: a later login (another run sharing
    /// the store) may have replaced it, and that credential is not this run's to remove. With the engine's
    /// credentials file the entry is edited here (and what this login replaced is put back); with a credential
    /// helper the engine's own `logout` erases it and the earlier credential is stored back.
    pub(super) async fn logout_one(&self, record: &LoginRecord) -> anyhow::Result<()> {
        let (engine, host) = (self.kind, record.host.as_str());
        if record.kind != self.kind {
            bail!("{engine} cannot log out of {host}: the login was made with {}", record.kind);
        }
        let _lock = lock_store(&record.auth_file).await.with_context(|| format!("{engine} logout from {host}"))?;
        let restore_failed = || {
            format!(
                "{engine} logout from {host}: cannot restore the earlier credentials in {}",
                record.auth_file.display()
            )
        };
        match &record.written {
            Written::Entry(ours) => {
                let earlier = record.saved_entries.get(host).cloned();
                return edit_auths(&record.auth_file, |auths| release_entry(auths, host, ours, earlier))
                    .with_context(restore_failed);
            }
            Written::Helper { helper, secret } => {
                let current = self.helper_get(helper, host).await?;
                if current.is_none_or(|held| held.secret.expose() != secret.expose()) {
                    // Replaced (or removed) since: what the helper holds now is not this run's.
                    return Ok(());
                }
            }
            Written::Engine => {}
        }
        let captured = self.run(&["logout", host], None, &Scrubber::none()).await?;
        // podman says "not logged into" when the entry is already gone; the goal (our entry removed) holds.
        if !captured.success && !captured.stderr.contains("not logged into") {
            bail!("{engine} logout from {host} failed ({})", captured.reason());
        }
        if let Some(saved) = &record.saved_helper {
            self.helper_store(saved)
                .await
                .with_context(|| format!("{engine} logout from {host}: cannot restore the earlier credentials"))?;
        }
        if !record.saved_entries.is_empty() {
            restore_entries(&record.auth_file, &record.saved_entries).with_context(restore_failed)?;
        }
        Ok(())
    }

    /// Logs the engine out of `host` (used by `ecr-ship logout`, for the hosts an earlier `ecr-ship login` added).
    pub async fn logout_host(&self, host: &str) -> anyhow::Result<()> {
        check_arg("registry host", host)?;
        let captured = self.run(&["logout", host], None, &Scrubber::none()).await?;
        if !captured.success && !captured.stderr.contains("not logged into") {
            bail!("{} logout from {host} failed ({})", self.kind, captured.reason());
        }
        Ok(())
    }

    /// True when the engine has a local image by this reference (name, tag, digest or ID).
    pub async fn image_exists(&self, local_ref: &str) -> anyhow::Result<bool> {
        check_arg("image reference", local_ref)?;
        let engine = self.kind;
        let args: &[&str] = match self.kind {
            EngineKind::Docker => &["image", "inspect", "--format", "{{.Id}}", local_ref],
            EngineKind::Podman => &["image", "exists", local_ref],
        };
        let captured = self.run(args, None, &Scrubber::none()).await?;
        if captured.success {
            return Ok(true);
        }
        // Only a definite "no such image" means false; a daemon that cannot be reached must not look like "absent".
        let absent = match self.kind {
            EngineKind::Docker => captured.stderr.to_ascii_lowercase().contains("no such image"),
            // `podman image exists` documents exit code 1 for "no such image" and 125 for errors.
            EngineKind::Podman => captured.code == Some(1),
        };
        if absent {
            Ok(false)
        } else {
            bail!("{engine} could not check for the local image {local_ref} ({})", captured.reason())
        }
    }

    /// The `repository@sha256:…` names the engine recorded for `local_ref` when it was pushed or pulled: the only
    /// way to know an image's registry digest before pushing it (the engine compresses layers at push time).
    pub async fn repo_digests(&self, local_ref: &str) -> anyhow::Result<Vec<String>> {
        check_arg("image reference", local_ref)?;
        let args = ["image", "inspect", "--format", "{{json .RepoDigests}}", local_ref];
        let captured = self.run(&args, None, &Scrubber::none()).await?;
        if !captured.success {
            bail!("{} could not inspect the local image {local_ref} ({})", self.kind, captured.reason());
        }
        let text = captured.stdout.trim();
        if text.is_empty() || text == "null" {
            return Ok(Vec::new());
        }
        serde_json::from_str(text)
            .with_context(|| format!("{} printed unexpected RepoDigests for {local_ref}: {text}", self.kind))
    }

    /// Gives the local image `local_ref` the additional name `remote_ref`.
    pub async fn tag(&self, local_ref: &str, remote_ref: &str) -> anyhow::Result<()> {
        check_arg("image reference", local_ref)?;
        check_arg("image reference", remote_ref)?;
        let captured = self.run(&["tag", local_ref, remote_ref], None, &Scrubber::none()).await?;
        if !captured.success {
            bail!("{} could not tag {local_ref} as {remote_ref} ({})", self.kind, captured.reason());
        }
        Ok(())
    }

    /// Pushes `remote_ref` (which must name a registry host) and returns the digest of the manifest the registry
    /// stored. The engine's progress goes to the progress sink as it happens.
    pub async fn push(&self, remote_ref: &str) -> anyhow::Result<PushedDigest> {
        check_arg("image reference", remote_ref)?;
        let engine = self.kind;
        let digest = match self.kind {
            EngineKind::Docker => {
                let captured = self.run_streaming(&["push", remote_ref]).await?;
                if !captured.success {
                    bail!("{engine} push of {remote_ref} failed ({})", captured.reason());
                }
                parse_docker_push_digest(&captured.stdout).ok_or_else(|| {
                    anyhow!(
                        "{engine} push of {remote_ref} finished but printed no 'digest: sha256:… size:' line, so the \
                         pushed manifest is unknown (output: {})",
                        captured.stdout.trim()
                    )
                })?
            }
            EngineKind::Podman => {
                // The digest file is the engine's documented way to report the digest; a scratch file that only
                // we read, removed again whatever happens.
                let digest_file = TempPath::new(&self.env, "digest")?;
                let file_arg = digest_file.path.to_string_lossy().into_owned();
                let captured = self.run_streaming(&["push", "--digestfile", &file_arg, remote_ref]).await;
                let contents = std::fs::read_to_string(&digest_file.path);
                let captured = captured?;
                if !captured.success {
                    bail!("{engine} push of {remote_ref} failed ({})", captured.reason());
                }
                let contents = contents.with_context(|| {
                    format!("{engine} push of {remote_ref} finished but wrote no digest file {file_arg}")
                })?;
                let digest = contents.trim();
                if !crate::digest::is_digest(digest) {
                    bail!("{engine} push of {remote_ref} wrote an unexpected digest '{digest}' (want sha256:<64 hex>)");
                }
                digest.to_string()
            }
        };
        Ok(PushedDigest { digest, media_type: None })
    }

    /// Exports `local_ref` as a docker archive into a scratch file (for a native push, which can push by digest).
    pub async fn save(&self, local_ref: &str) -> anyhow::Result<super::SavedImage> {
        check_arg("image reference", local_ref)?;
        let file = TempPath::new(&self.env, "save")?;
        let path = file.path.to_string_lossy().into_owned();
        let args: Vec<&str> = match self.kind {
            EngineKind::Docker => vec!["save", "-o", &path, local_ref],
            EngineKind::Podman => vec!["save", "--format", "docker-archive", "-o", &path, local_ref],
        };
        let captured = self.run(&args, None, &Scrubber::none()).await?;
        if !captured.success {
            bail!("{} could not export {local_ref} ({})", self.kind, captured.reason());
        }
        Ok(super::SavedImage(file))
    }

    /// Removes the local name `remote_ref` (the temporary tag made for the push). Already gone counts as done.
    /// docker has no untag: `docker rmi --no-prune` removes only the name while another name still refers to the
    /// image (the usual case, the local source tag), but would delete an image known by this name alone.
    pub async fn remove_tag(&self, remote_ref: &str) -> anyhow::Result<()> {
        check_arg("image reference", remote_ref)?;
        // podman untags without deleting; `untag IMAGE NAME` with both the same removes just that name.
        let args: &[&str] = match self.kind {
            EngineKind::Docker => &["rmi", "--no-prune", remote_ref],
            EngineKind::Podman => &["untag", remote_ref, remote_ref],
        };
        let captured = self.run(args, None, &Scrubber::none()).await?;
        let gone = {
            let stderr = captured.stderr.to_ascii_lowercase();
            stderr.contains("no such image") || stderr.contains("image not known") || stderr.contains("tag not known")
        };
        if !captured.success && !gone {
            bail!("{} could not remove the local tag {remote_ref} ({})", self.kind, captured.reason());
        }
        Ok(())
    }
}

/// Turns a login host as users and ECR write it into the bare `host[:port]` both engines store credentials under.
pub(super) fn normalize_host(host: &str) -> anyhow::Result<String> {
    let trimmed = host.trim();
    let bare = trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://")).unwrap_or(trimmed);
    let bare = bare.trim_end_matches('/');
    if bare.is_empty() || bare.contains('/') {
        bail_input!(
            "invalid registry host '{host}': expected host[:port], for example 123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
    }
    check_arg("registry host", bare)?;
    Ok(bare.to_string())
}

/// Rejects values that the engine would read as an option or that cannot be a name at all, since every value
/// here becomes an argument of the engine's command line.
pub(super) fn check_arg(what: &str, value: &str) -> anyhow::Result<()> {
    if value.is_empty() || value.starts_with('-') || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail_input!(
            "invalid {what} '{value}': it must be non-empty, must not start with '-' and must not contain spaces"
        );
    }
    Ok(())
}

/// Finds `<tag>: digest: sha256:<hex> size: <n>`, the line `docker push` ends with; the last one wins because a
/// push prints one per pushed tag.
pub(super) fn parse_docker_push_digest(stdout: &str) -> Option<String> {
    stdout.lines().rev().find_map(|line| {
        let after = &line[line.find("digest: ")? + "digest: ".len()..];
        let digest = after.split_whitespace().next()?;
        crate::digest::is_digest(digest).then(|| digest.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_scheme_and_bad_ones_are_bad_input() {
        assert_eq!(
            normalize_host("https://1.dkr.ecr.us-east-1.amazonaws.com/").unwrap(),
            "1.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert_eq!(normalize_host("127.0.0.1:5000").unwrap(), "127.0.0.1:5000");
        for bad in ["", "https://", "a/b", "-H", "a b"] {
            let error = normalize_host(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT, "{bad:?}");
        }
    }

    #[test]
    fn docker_push_digest_line() {
        let out = "The push refers to repository [h/r]\nabc: Pushed\nv1: digest: sha256:75055bd3d18538e3fd18cccc4dd2116dfc124d4eb6cb76ddd1e712a143887066 size: 524\n";
        assert_eq!(
            parse_docker_push_digest(out).as_deref(),
            Some("sha256:75055bd3d18538e3fd18cccc4dd2116dfc124d4eb6cb76ddd1e712a143887066")
        );
        assert_eq!(parse_docker_push_digest("v1: digest: sha256:abc size: 1"), None);
        assert_eq!(parse_docker_push_digest(""), None);
    }
}
