//! Entry points for the cargo-fuzz targets under `fuzz/`: each feeds untrusted input to one parser a user or a
//! server controls, the way the product calls it, and ignores the result. A panic (or unbounded memory) is the
//! only failure. Compiled only with the `fuzz-entries` feature (the fuzz crate and the tests enable it), so none of
//! it is in the product; `tests/it/fuzz_seeds.rs` runs every entry on its seed corpus in the ordinary test run, so
//! the entries compile and stay reachable. The fuzzers themselves need nightly and run by hand (fuzz/README.md).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::ci::{self, CiContext, EnvMap, Overrides, Workspace};
use crate::config::file::ConfigFile;
use crate::host::RegistryHost;
use crate::oci::{Compression, ImageSource, Stop};
use crate::tags::{self, TagLine, TagRules, metadata};

/// Tag lines (one per line; lines after a `--` line are flavor lines), planned for a branch, a tag and a pull
/// request build, with the same lines as labels.
pub fn tag_lines(text: &str) {
    let (lines, flavor) = match text.split_once("\n--\n") {
        Some((lines, flavor)) => (lines, flavor),
        None => (text, ""),
    };
    // As the resolver reads a list input (comment lines skipped, metadata-action's CSV), then parses it.
    let entries = |text: &str| -> Option<Vec<String>> {
        Some(metadata::input_entries(text).ok()?.into_iter().map(|entry| entry.text).collect())
    };
    let (Some(lines), Some(flavor)) = (entries(lines), entries(flavor)) else { return };
    let Ok(parsed) = TagLine::parse_all(&lines) else { return };
    let flavor = match flavor.is_empty() {
        true => None,
        false => match metadata::Flavor::parse(&flavor) {
            Ok(flavor) => Some(flavor),
            Err(_) => return,
        },
    };
    let Ok(rules) = TagRules::from_parts(parsed, flavor, None, true, true, Some("app/".into())) else { return };
    let now = DateTime::<Utc>::UNIX_EPOCH;
    for context in sample_contexts() {
        let _ = tags::plan_noting(&context, &rules, now, &mut Vec::new());
        let refs = tags::ref_context(&context, rules.sha_length, now);
        let _ = tags::labels::oci_labels(&context, &refs, Some("v1"), now, &lines);
    }
}

fn sample_contexts() -> Vec<CiContext> {
    let env: EnvMap = [("GITHUB_ACTIONS", "true"), ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let overrides = [
        Overrides { branch: Some("feature/Ü x".into()), ..Overrides::default() },
        Overrides { git_tag: Some("app/v1.2.3-rc.1".into()), ..Overrides::default() },
        Overrides { pr: Some("42".into()), branch: Some("fix".into()), ..Overrides::default() },
    ];
    overrides.iter().filter_map(|o| ci::detect(&env, &NoWorkspace(String::new()), o).ok()).collect()
}

/// A registry host as given by a user or in GetAuthorizationToken's proxyEndpoint.
pub fn registry_host(text: &str) {
    if let Ok(host) = RegistryHost::parse(text) {
        let _ = host.host();
    }
}

/// `.ecr-ship.yml` text.
pub fn config_file(text: &str) {
    if let Ok(file) = ConfigFile::parse(text, "fuzz.yml") {
        let _ = file.tag_section();
        let _ = file.output_section();
    }
}

/// A GitHub event payload, read for a push and for a pull request event.
pub fn event_payload(text: &str) {
    for event in ["push", "pull_request", "pull_request_target"] {
        let env: EnvMap = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", event),
            ("GITHUB_EVENT_PATH", "event.json"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let _ = ci::detect(&env, &NoWorkspace(text.to_string()), &Overrides::default());
    }
}

/// A workspace whose only file is the given payload and which has no git.
struct NoWorkspace(String);

impl Workspace for NoWorkspace {
    fn read_file(&self, _path: &Path) -> std::io::Result<String> {
        Ok(self.0.clone())
    }

    fn git(&self, _args: &[&str]) -> Option<String> {
        None
    }
}

/// An OCI layout: the input is parts separated by a 0xFF byte, `index.json` first, then blobs. Each blob is stored
/// under its digest, and `@N` / `#N` in any earlier part become part N's `sha256:` digest / size (later parts are
/// done first), so the fuzzer can build index → manifest → config/layer chains that really resolve.
/// True when the layout planned (the seeds' check).
pub fn oci_layout(data: &[u8]) -> bool {
    let dir = scratch("layout");
    let mut parts: Vec<Vec<u8>> = data.split(|b| *b == 0xFF).map(<[u8]>::to_vec).collect();
    if parts.len() > 16 {
        return false;
    }
    let blobs = dir.join("blobs/sha256");
    if std::fs::create_dir_all(&blobs).is_err() {
        return false;
    }
    let mut digests = vec![String::new(); parts.len()];
    let mut sizes = vec![0usize; parts.len()];
    for index in (0..parts.len()).rev() {
        for later in index + 1..parts.len() {
            parts[index] = replace(&parts[index], format!("@{later}").as_bytes(), digests[later].as_bytes());
            parts[index] = replace(&parts[index], format!("#{later}").as_bytes(), sizes[later].to_string().as_bytes());
        }
        sizes[index] = parts[index].len();
        digests[index] = crate::digest::sha256_digest(&parts[index]);
        if index > 0
            && let Some(hex) = crate::digest::sha256_hex(&digests[index])
        {
            let _ = std::fs::write(blobs.join(hex), &parts[index]);
        }
    }
    let _ = std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#);
    let _ = std::fs::write(dir.join("index.json"), &parts[0]);
    let planned = ImageSource::parse(&format!("oci:{}", dir.display())).is_ok_and(|source| source.plan().is_ok());
    let _ = std::fs::remove_dir_all(&dir);
    planned
}

/// A `docker save` archive, planned as it is and with its uncompressed layers gzipped (the command's default);
/// true when both planned.
pub fn docker_archive(data: &[u8]) -> bool {
    tar_source("docker-archive", data)
}

/// An OCI archive (the tar of an OCI layout, as buildx, podman and skopeo write it); true when it planned.
pub fn oci_archive(data: &[u8]) -> bool {
    tar_source("oci-archive", data)
}

/// `data` written to a file and planned as the tar source `kind`.
fn tar_source(kind: &str, data: &[u8]) -> bool {
    let dir = scratch(kind);
    let file = dir.join("image.tar");
    let planned = std::fs::create_dir_all(&dir).is_ok()
        && std::fs::write(&file, data).is_ok()
        && ImageSource::parse(&format!("{kind}:{}", file.display())).is_ok_and(|s| {
            let gzipped = s.plan_with(Compression::Gzip, &Stop::default());
            s.plan().is_ok() && gzipped.is_ok()
        });
    let _ = std::fs::remove_dir_all(&dir);
    planned
}

fn scratch(kind: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ecr-ship-fuzz-{kind}-{}", std::process::id()))
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(position) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..position]);
        out.extend_from_slice(with);
        rest = &rest[position + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}
