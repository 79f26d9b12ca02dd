//! What `ecr-ship prune` removes, as a pure function of the repository's images (their tags, push times and
//! manifests), the rules and an instant: the plan, with one reason per image, the calls that carry it out in a
//! safe order, and the bytes it frees.
//!
//! A rule names tags (`--pr N`: `pr-N`, and an image's commit tags when nothing else names it; `--keep-last N
//! --match GLOB`: the matching tags of all but the N newest matching images) or untagged images (`--untagged-older-than
//! DAYS`). An image goes only when every tag it has is the rule's (or it is untagged and the rule or its parent
//! takes it); what is kept keeps what it needs: an image kept is *anchored* when a tag outside the rule names it, or
//! when it is untagged, no rule takes it and nothing points at it, and every child manifest of a kept index and
//! every attestation of a kept image (OCI `subject`, or buildx's `vnd.docker.reference.digest` entry in an index)
//! is kept with it. Rule tags on a kept image that has other tags are removed by tag; removing an image's last tag
//! deletes the image in ECR (BatchDeleteImage reference), so a protected image whose tags are all the rule's keeps
//! them. Deletions go by digest (that is what removes an image, immutable repositories included), parents and
//! attestations before the manifests they point at, in calls of at most [`MAX_IDS_PER_CALL`] ids.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// BatchDeleteImage and BatchGetImage take at most 100 image ids per call (ECR API reference).
pub const MAX_IDS_PER_CALL: usize = 100;

/// The annotation buildx puts on an attestation manifest's entry in an index: the digest of the image it attests.
const DOCKER_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";

/// One image of the repository, as DescribeImages and BatchGetImage give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub digest: String,
    pub tags: Vec<String>,
    /// When it was pushed, in seconds since the epoch (`None` when the API did not say).
    pub pushed_at: Option<i64>,
    pub manifest: ManifestFacts,
}

/// What the planner reads from a manifest's JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestFacts {
    /// The manifest's own length in bytes (it is stored too).
    pub length: u64,
    /// An index's entries, by digest.
    pub children: Vec<String>,
    /// OCI 1.1 `subject`: the image this manifest is an attestation (or signature) of.
    pub subject: Option<String>,
    /// In an index: attestation entry digest -> the digest of the entry it attests (buildx's annotation).
    pub attests: Vec<(String, String)>,
    /// Config and layer blobs with their sizes.
    pub blobs: Vec<(String, u64)>,
}

impl ManifestFacts {
    /// Reads the facts of a manifest's bytes. A manifest that is not a JSON object is refused: the plan must know
    /// every manifest it weighs.
    pub fn parse(bytes: &str) -> Result<ManifestFacts, String> {
        let value: Value = serde_json::from_str(bytes).map_err(|e| format!("the manifest is not JSON: {e}"))?;
        if !value.is_object() {
            return Err("the manifest is not a JSON object".to_string());
        }
        let digest_of = |entry: &Value| entry.get("digest").and_then(Value::as_str).map(str::to_string);
        let size_of = |entry: &Value| entry.get("size").and_then(Value::as_u64).unwrap_or(0);
        let mut facts = ManifestFacts { length: bytes.len() as u64, ..ManifestFacts::default() };
        facts.subject = value.get("subject").and_then(digest_of);
        for entry in value.get("manifests").and_then(Value::as_array).into_iter().flatten() {
            let Some(digest) = digest_of(entry) else { continue };
            let attested = entry.pointer(&format!("/annotations/{DOCKER_REFERENCE_DIGEST}")).and_then(Value::as_str);
            if let Some(attested) = attested {
                facts.attests.push((digest.clone(), attested.to_string()));
            }
            facts.children.push(digest);
        }
        let config = value.get("config").into_iter();
        let layers = value.get("layers").and_then(Value::as_array).into_iter().flatten();
        for blob in config.chain(layers) {
            if let Some(digest) = digest_of(blob) {
                facts.blobs.push((digest, size_of(blob)));
            }
        }
        Ok(facts)
    }
}

/// A shell-style pattern over tags: `*` any run of characters, `?` one character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagGlob(String);

impl TagGlob {
    /// Checks the pattern: a tag's characters (letters, digits, `_`, `.`, `-`) and the wildcards, 1-128 long.
    pub fn new(pattern: &str) -> Result<TagGlob, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '*' | '?');
        if pattern.is_empty() || pattern.len() > 128 || !pattern.chars().all(allowed) {
            return Err(format!(
                "invalid --match '{}': a tag pattern is 1-128 characters of letters, digits, '_', '.', '-' and the \
                 wildcards '*' and '?'",
                crate::error::shown(pattern)
            ));
        }
        Ok(TagGlob(pattern.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, tag: &str) -> bool {
        crate::names::glob_match(&self.0, tag)
    }
}

/// What to prune; at least one rule is set (the settings check that).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// `--pr N`: the pull request's tags.
    pub pr: Option<u64>,
    /// `--keep-last N --match GLOB`.
    pub keep_last: Option<(usize, TagGlob)>,
    /// `--untagged-older-than DAYS`.
    pub untagged_older_than_days: Option<u64>,
}

impl Rules {
    /// The rules in words, for the plan's heading.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(pr) = self.pr {
            parts.push(format!("pull request {pr}'s tags (pr-{pr}, and the commit tags of images only it names)"));
        }
        if let Some((count, glob)) = &self.keep_last {
            parts.push(format!("tags matching '{}' except on the {count} newest such images", glob.as_str()));
        }
        if let Some(days) = self.untagged_older_than_days {
            parts.push(format!("untagged images pushed more than {days} days ago"));
        }
        parts.join("; ")
    }
}

/// What happens to one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The image goes (by digest, with all its tags).
    Delete,
    /// The image stays; these tags of it go.
    Untag(Vec<String>),
    Keep,
}

/// One image in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub digest: String,
    pub tags: Vec<String>,
    /// The bytes the image's manifests and blobs take (shared blobs counted once within the image).
    pub size: u64,
    pub action: Action,
    pub reason: String,
}

/// A BatchDeleteImage image id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ImageRef {
    Digest(String),
    Tag(String),
}

/// The plan for the whole repository: one entry per image, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub entries: Vec<Entry>,
    /// Bytes no kept image uses any more once the deleted images are gone (blobs and manifests).
    pub bytes_freed: u64,
    /// The calls, in order: tag removals first, then deletions by digest, parents before what they point at; each
    /// inner list is one wave, to be sent in calls of at most [`MAX_IDS_PER_CALL`] ids.
    pub waves: Vec<Vec<ImageRef>>,
}

impl Plan {
    pub fn deleted(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.action == Action::Delete)
    }

    pub fn is_empty(&self) -> bool {
        self.waves.iter().all(Vec::is_empty)
    }

    /// The first image of `wave` to delete by digest that has gained a tag since the plan was made (another job
    /// retagged or promoted it), with the tags it gained; `current` is the repository's tags now, by digest. A
    /// delete by digest would take those tags too, so the prune stops there.
    pub fn tags_added(
        &self,
        wave: &[ImageRef],
        current: &BTreeMap<String, BTreeSet<String>>,
    ) -> Option<(String, Vec<String>)> {
        wave.iter().find_map(|id| {
            let ImageRef::Digest(digest) = id else { return None };
            let planned = self.entries.iter().find(|e| &e.digest == digest)?;
            let added: Vec<String> =
                current.get(digest)?.iter().filter(|tag| !planned.tags.contains(tag)).cloned().collect();
            (!added.is_empty()).then(|| (digest.clone(), added))
        })
    }
}

/// Whether a tag is a commit tag ecr-ship's default plan makes (`sha-` and 4-40 hex digits).
fn is_commit_tag(tag: &str) -> bool {
    tag.strip_prefix("sha-")
        .is_some_and(|hex| (4..=40).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The tags of `image` the rules take, and why (empty when none).
fn rule_tags(image: &StoredImage, rules: &Rules, older: &BTreeSet<&str>) -> (BTreeSet<String>, Vec<String>) {
    let (mut taken, mut why) = (BTreeSet::new(), Vec::new());
    if let Some(pr) = rules.pr {
        let pr_tag = format!("pr-{pr}");
        if image.tags.contains(&pr_tag) {
            let only_commit_tags = image.tags.iter().all(|t| *t == pr_tag || is_commit_tag(t));
            if only_commit_tags {
                taken.extend(image.tags.iter().cloned());
                why.push(format!("{pr_tag} and its commit tags (--pr {pr})"));
            } else {
                taken.insert(pr_tag.clone());
                why.push(format!("{pr_tag} (--pr {pr})"));
            }
        }
    }
    if let Some((count, glob)) = &rules.keep_last
        && older.contains(image.digest.as_str())
    {
        let matching: Vec<String> = image.tags.iter().filter(|t| glob.matches(t)).cloned().collect();
        why.push(format!("{} older than the {count} newest images matching '{}'", matching.join(", "), glob.as_str()));
        taken.extend(matching);
    }
    (taken, why)
}

/// The plan for `images` under `rules` at `now` (seconds since the epoch).
pub fn plan(images: &[StoredImage], rules: &Rules, now: i64) -> Plan {
    let mut images: Vec<&StoredImage> = images.iter().collect();
    // Newest first; ties (and unknown times, last) by digest, so the plan is the same every run.
    images.sort_by(|a, b| b.pushed_at.cmp(&a.pushed_at).then_with(|| a.digest.cmp(&b.digest)));
    let by_digest: BTreeMap<&str, &StoredImage> = images.iter().map(|i| (i.digest.as_str(), *i)).collect();

    // --keep-last: the images with a matching tag beyond the newest N.
    let mut older: BTreeSet<&str> = BTreeSet::new();
    if let Some((count, glob)) = &rules.keep_last {
        let matching = images.iter().filter(|i| i.tags.iter().any(|t| glob.matches(t)));
        older.extend(matching.skip(*count).map(|i| i.digest.as_str()));
    }

    // What points at each image: indexes listing it, attestations of it.
    let mut parents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut attestations: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for image in &images {
        for child in &image.manifest.children {
            parents.entry(child.as_str()).or_default().push(image.digest.as_str());
        }
        if let Some(subject) = &image.manifest.subject {
            attestations.entry(subject.as_str()).or_default().push(image.digest.as_str());
        }
        for (attestation, attested) in &image.manifest.attests {
            attestations.entry(attested.as_str()).or_default().push(attestation.as_str());
        }
    }
    // The images something else in the repository points at: their fate follows what points at them.
    let mut dependents: BTreeSet<&str> = BTreeSet::new();
    let mut subject_of: BTreeMap<&str, &str> = BTreeMap::new();
    for image in &images {
        dependents.extend(image.manifest.children.iter().map(String::as_str).filter(|c| by_digest.contains_key(c)));
        let attested = image.manifest.subject.iter().map(|s| (image.digest.as_str(), s.as_str()));
        let listed = image.manifest.attests.iter().map(|(a, s)| (a.as_str(), s.as_str()));
        for (attestation, subject) in attested.chain(listed).filter(|(_, s)| by_digest.contains_key(s)) {
            dependents.insert(attestation);
            subject_of.insert(attestation, subject);
        }
    }

    let cutoff = rules.untagged_older_than_days.map(|days| now - (days as i64).saturating_mul(86_400));
    let mut taken: BTreeMap<&str, (BTreeSet<String>, Vec<String>)> = BTreeMap::new();
    let mut keep_reason: BTreeMap<&str, String> = BTreeMap::new();
    let mut untagged_taken: BTreeSet<&str> = BTreeSet::new();
    for image in &images {
        let digest = image.digest.as_str();
        let (tags, why) = rule_tags(image, rules, &older);
        let outside: Vec<&String> = image.tags.iter().filter(|t| !tags.contains(*t)).collect();
        if !outside.is_empty() {
            let names = outside.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
            let word = if outside.len() == 1 { "tag" } else { "tags" };
            keep_reason.insert(digest, format!("{word} {names} outside the rules"));
        } else if image.tags.is_empty() {
            let old = cutoff.is_some_and(|cutoff| image.pushed_at.is_some_and(|at| at <= cutoff));
            if old {
                untagged_taken.insert(digest);
            } else if !dependents.contains(digest) {
                let note = match cutoff {
                    Some(_) => "untagged, pushed within --untagged-older-than",
                    None => "untagged, and no rule takes untagged images",
                };
                keep_reason.insert(digest, note.to_string());
            }
        }
        taken.insert(digest, (tags, why));
    }

    // Kept: the anchored images, then every child of a kept index and every attestation of a kept image.
    let mut queue: Vec<&str> = keep_reason.keys().copied().collect();
    while let Some(digest) = queue.pop() {
        let Some(image) = by_digest.get(digest) else { continue };
        let short = short_digest(digest);
        let mut needed: Vec<(&str, String)> = Vec::new();
        for child in &image.manifest.children {
            needed.push((child.as_str(), format!("a child manifest of the kept index {short}")));
        }
        for attestation in attestations.get(digest).into_iter().flatten() {
            needed.push((attestation, format!("an attestation of the kept image {short}")));
        }
        for (dependent, reason) in needed {
            if by_digest.contains_key(dependent) && !keep_reason.contains_key(dependent) {
                keep_reason.insert(dependent, reason);
                queue.push(dependent);
            }
        }
    }

    let mut entries = Vec::new();
    for image in &images {
        let digest = image.digest.as_str();
        let (tags, why) = &taken[digest];
        let (action, reason) = match keep_reason.get(digest) {
            Some(kept) if tags.is_empty() => (Action::Keep, format!("kept: {kept}")),
            Some(kept) if tags.len() < image.tags.len() => {
                (Action::Untag(tags.iter().cloned().collect()), format!("removes {}; kept: {kept}", why.join("; ")))
            }
            Some(kept) => (
                Action::Keep,
                format!(
                    "kept with its tags: {kept}, and removing an image's last tag deletes it (the rules take {})",
                    why.join("; ")
                ),
            ),
            None if untagged_taken.contains(digest) => {
                let days = rules.untagged_older_than_days.unwrap_or_default();
                (Action::Delete, format!("untagged and pushed more than {days} days ago (--untagged-older-than)"))
            }
            None if !why.is_empty() => (Action::Delete, why.join("; ")),
            None => (Action::Delete, dependent_reason(digest, &parents, &subject_of)),
        };
        let mut tags = image.tags.clone();
        tags.sort();
        entries.push(Entry { digest: digest.to_string(), tags, size: size(image, &by_digest), action, reason });
    }

    let deleted: BTreeSet<&str> =
        entries.iter().filter(|e| e.action == Action::Delete).map(|e| e.digest.as_str()).collect();
    let bytes_freed = freed(&images, &deleted, &by_digest);
    let mut waves = Vec::new();
    let untag: Vec<ImageRef> = entries
        .iter()
        .flat_map(|e| match &e.action {
            Action::Untag(tags) => tags.iter().map(|t| ImageRef::Tag(t.clone())).collect(),
            _ => Vec::new(),
        })
        .collect();
    if !untag.is_empty() {
        waves.push(untag);
    }
    waves.extend(deletion_waves(&deleted, &parents, &attestations));
    Plan { entries, bytes_freed, waves }
}

/// Why an untagged image goes with what pointed at it.
fn dependent_reason(digest: &str, parents: &BTreeMap<&str, Vec<&str>>, subject_of: &BTreeMap<&str, &str>) -> String {
    match (parents.get(digest).and_then(|p| p.first()), subject_of.get(digest)) {
        (Some(parent), _) => {
            format!("a child manifest of the deleted index {}, and nothing kept needs it", short_digest(parent))
        }
        (None, Some(subject)) => {
            format!("an attestation of the deleted image {}, and nothing kept needs it", short_digest(subject))
        }
        (None, None) => "nothing kept needs it".to_string(),
    }
}

/// Deletions by digest in waves: an image goes after every deleted index that lists it and every deleted
/// attestation of it (ECR refuses to delete a manifest an index still references).
fn deletion_waves(
    deleted: &BTreeSet<&str>,
    parents: &BTreeMap<&str, Vec<&str>>,
    attestations: &BTreeMap<&str, Vec<&str>>,
) -> Vec<Vec<ImageRef>> {
    let mut level: BTreeMap<&str, usize> = deleted.iter().map(|d| (*d, 0)).collect();
    // Longest path from a root; manifests form no cycles, and the bound stops a malformed repository's.
    for _ in 0..=deleted.len() {
        let mut changed = false;
        for digest in deleted {
            let pointers =
                parents.get(digest).into_iter().flatten().chain(attestations.get(digest).into_iter().flatten());
            let deepest = pointers.filter_map(|p| level.get(p)).map(|l| l + 1).max().unwrap_or(0);
            if deepest > level[digest] && deepest <= deleted.len() {
                level.insert(digest, deepest);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut waves: BTreeMap<usize, Vec<ImageRef>> = BTreeMap::new();
    for (digest, at) in level {
        waves.entry(at).or_default().push(ImageRef::Digest(digest.to_string()));
    }
    waves.into_values().collect()
}

/// The blobs and manifests an image holds: its own, and for an index its entries' too.
fn holdings<'a>(
    image: &'a StoredImage,
    by_digest: &BTreeMap<&str, &'a StoredImage>,
    into: &mut BTreeMap<&'a str, u64>,
) {
    into.insert(image.digest.as_str(), image.manifest.length);
    for (blob, size) in &image.manifest.blobs {
        into.insert(blob.as_str(), *size);
    }
    for child in &image.manifest.children {
        if let Some(child) = by_digest.get(child.as_str())
            && !into.contains_key(child.digest.as_str())
        {
            holdings(child, by_digest, into);
        }
    }
}

fn size(image: &StoredImage, by_digest: &BTreeMap<&str, &StoredImage>) -> u64 {
    let mut held = BTreeMap::new();
    holdings(image, by_digest, &mut held);
    held.values().sum()
}

/// Bytes of the manifests and blobs deleted images hold that no kept image holds.
fn freed(images: &[&StoredImage], deleted: &BTreeSet<&str>, by_digest: &BTreeMap<&str, &StoredImage>) -> u64 {
    let (mut gone, mut kept) = (BTreeMap::new(), BTreeMap::new());
    for image in images {
        if deleted.contains(image.digest.as_str()) {
            gone.insert(image.digest.as_str(), image.manifest.length);
            for (blob, size) in &image.manifest.blobs {
                gone.insert(blob.as_str(), *size);
            }
        } else {
            holdings(image, by_digest, &mut kept);
        }
    }
    gone.iter().filter(|(key, _)| !kept.contains_key(*key)).map(|(_, size)| size).sum()
}

/// The bytes freed once the images `deleted` names are gone (for a run ECR stopped part of the way).
pub fn bytes_freed(images: &[StoredImage], deleted: &BTreeSet<String>) -> u64 {
    let images: Vec<&StoredImage> = images.iter().collect();
    let by_digest: BTreeMap<&str, &StoredImage> = images.iter().map(|i| (i.digest.as_str(), *i)).collect();
    let deleted: BTreeSet<&str> = deleted.iter().map(String::as_str).collect();
    freed(&images, &deleted, &by_digest)
}

/// `sha256:` and the first 12 hex digits, for reasons.
pub fn short_digest(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_800_000_000;

    fn digest(name: &str) -> String {
        crate::digest::sha256_digest(name.as_bytes())
    }

    fn blob(name: &str, size: u64) -> (String, u64) {
        (digest(&format!("blob {name}")), size)
    }

    /// An image manifest of its own config and one layer, plus `shared` layers.
    fn single(name: &str, shared: &[(String, u64)]) -> ManifestFacts {
        let mut blobs = vec![blob(&format!("{name} config"), 100), blob(&format!("{name} layer"), 1_000)];
        blobs.extend(shared.iter().cloned());
        ManifestFacts { length: 10, blobs, ..ManifestFacts::default() }
    }

    fn index(children: &[&str], attests: &[(&str, &str)]) -> ManifestFacts {
        ManifestFacts {
            length: 10,
            children: children.iter().map(|c| digest(c)).collect(),
            attests: attests.iter().map(|(a, s)| (digest(a), digest(s))).collect(),
            ..ManifestFacts::default()
        }
    }

    fn referrer(subject: &str) -> ManifestFacts {
        ManifestFacts {
            length: 10,
            subject: Some(digest(subject)),
            blobs: vec![blob("sbom", 5)],
            ..ManifestFacts::default()
        }
    }

    fn image(name: &str, tags: &[&str], age_days: i64, manifest: ManifestFacts) -> StoredImage {
        StoredImage {
            digest: digest(name),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at: Some(NOW - age_days * DAY),
            manifest,
        }
    }

    /// The issue's repository: (pr-7, sha-aaaaaaa), (main, sha-bbbbbbb), (main2, pr-8), and an index under
    /// `release` whose two children are untagged.
    fn issue_repository() -> Vec<StoredImage> {
        let shared = [blob("base", 50_000)];
        vec![
            image("pr7", &["pr-7", "sha-aaaaaaa"], 3, single("pr7", &shared)),
            image("main", &["main", "sha-bbbbbbb"], 2, single("main", &shared)),
            image("main2", &["main2", "pr-8"], 1, single("main2", &[])),
            image("release", &["release"], 5, index(&["amd64", "arm64"], &[])),
            image("amd64", &[], 5, single("amd64", &[])),
            image("arm64", &[], 5, single("arm64", &[])),
        ]
    }

    fn pr(n: u64) -> Rules {
        Rules { pr: Some(n), ..Rules::default() }
    }

    /// The action the plan takes on the image called `name`.
    fn action_of(plan: &Plan, name: &str) -> Action {
        plan.entries.iter().find(|e| e.digest == digest(name)).map(|e| e.action.clone()).expect(name)
    }

    fn reason_of(plan: &Plan, name: &str) -> String {
        plan.entries.iter().find(|e| e.digest == digest(name)).map(|e| e.reason.clone()).expect(name)
    }

    /// The repository after the plan is carried out, as ECR leaves it.
    fn carried_out(images: &[StoredImage], plan: &Plan) -> Vec<StoredImage> {
        let mut after: Vec<StoredImage> = images.to_vec();
        for wave in &plan.waves {
            for id in wave {
                match id {
                    ImageRef::Digest(d) => after.retain(|i| &i.digest != d),
                    ImageRef::Tag(t) => {
                        for image in &mut after {
                            image.tags.retain(|x| x != t);
                        }
                        after.retain(|i| {
                            !(i.tags.is_empty() && images.iter().any(|o| o.digest == i.digest && o.tags.contains(t)))
                        });
                    }
                }
            }
        }
        after
    }

    fn untag(tags: &[&str]) -> Action {
        Action::Untag(tags.iter().map(|t| t.to_string()).collect())
    }

    /// A case of the table: its name, the rules, and the action expected on each named image.
    type Case = (&'static str, Rules, Vec<(&'static str, Action)>);

    #[test]
    fn the_rules_take_what_the_issue_says_and_keep_the_rest() {
        use Action::{Delete, Keep};
        let repository = issue_repository();
        let untagged = |days| Rules { untagged_older_than_days: Some(days), ..Rules::default() };
        let sha_last = |n| Rules { keep_last: Some((n, TagGlob::new("sha-*").unwrap())), ..Rules::default() };
        let cases: Vec<Case> = vec![
            (
                "pr 7: the image with only PR tags goes; the index's children stay",
                pr(7),
                vec![
                    ("pr7", Delete),
                    ("main", Keep),
                    ("main2", Keep),
                    ("release", Keep),
                    ("amd64", Keep),
                    ("arm64", Keep),
                ],
            ),
            ("pr 8: its tag goes, main2 keeps the image", pr(8), vec![("main2", untag(&["pr-8"])), ("pr7", Keep)]),
            ("pr 9: nothing carries it", pr(9), vec![("pr7", Keep), ("main2", Keep)]),
            (
                "untagged children of a kept index stay, however old",
                untagged(0),
                vec![("amd64", Keep), ("arm64", Keep)],
            ),
            (
                "keep-last 1 of sha-*: the older commit tag goes, with its image when nothing else names it",
                sha_last(1),
                vec![("main", Keep), ("pr7", untag(&["sha-aaaaaaa"])), ("release", Keep)],
            ),
        ];
        for (name, rules, expected) in cases {
            let plan = plan(&repository, &rules, NOW);
            for (image, action) in expected {
                assert_eq!(action_of(&plan, image), action, "{name}: {image}: {}", reason_of(&plan, image));
            }
            let again = super::plan(&carried_out(&repository, &plan), &rules, NOW);
            assert!(again.is_empty(), "{name}: a re-run has nothing to do: {again:?}");
        }
    }

    #[test]
    fn what_a_kept_image_needs_is_never_lost() {
        use Action::{Delete, Keep};
        let images = vec![
            image("main", &["main"], 1, single("main", &[])),
            // A PR index with a child it shares with the release index, and a buildx attestation of its child.
            image("pr-index", &["pr-10"], 2, index(&["shared", "own", "own-att"], &[("own-att", "own")])),
            image("release", &["v1"], 3, index(&["shared", "rel-att"], &[("rel-att", "shared")])),
            image("shared", &[], 3, single("shared", &[])),
            image("own", &[], 2, single("own", &[])),
            image("own-att", &[], 2, single("own-att", &[])),
            image("rel-att", &[], 3, single("rel-att", &[])),
            // OCI referrers: of a kept image, and of an image that goes.
            image("sbom-of-main", &[], 1, referrer("main")),
            image("pr-single", &["pr-10", "sha-1234567"], 2, single("pr-single", &[])),
            image("sbom-of-pr", &[], 2, referrer("pr-single")),
            // A child of a kept index that carries only the rule's tag: it keeps the tag, since removing an image's
            // last tag deletes it.
            image("tagged-child", &["pr-10"], 3, single("tagged-child", &[])),
            image("holder", &["stable"], 3, index(&["tagged-child"], &[])),
            // An untagged image nothing points at, and no untagged rule.
            image("loose", &[], 400, single("loose", &[])),
        ];
        let plan = plan(&images, &pr(10), NOW);
        for (name, action, reason) in [
            ("main", Keep, "tag main outside the rules"),
            ("pr-index", Delete, "pr-10"),
            ("release", Keep, "tag v1 outside the rules"),
            ("shared", Keep, "a child manifest of the kept index"),
            ("rel-att", Keep, "kept index"),
            ("own", Delete, "a child manifest of the deleted index"),
            ("own-att", Delete, "deleted index"),
            ("sbom-of-main", Keep, "an attestation of the kept image"),
            ("pr-single", Delete, "pr-10 and its commit tags"),
            ("sbom-of-pr", Delete, "an attestation of the deleted image"),
            ("tagged-child", Keep, "removing an image's last tag deletes it"),
            ("holder", Keep, "tag stable"),
            ("loose", Keep, "no rule takes untagged images"),
        ] {
            assert_eq!(action_of(&plan, name), action, "{name}: {}", reason_of(&plan, name));
            assert!(reason_of(&plan, name).contains(reason), "{name}: {}", reason_of(&plan, name));
        }
        // Parents and attestations go before what they point at.
        let wave_of =
            |name: &str| plan.waves.iter().position(|w| w.contains(&ImageRef::Digest(digest(name)))).expect(name);
        assert!(wave_of("pr-index") < wave_of("own-att") && wave_of("own-att") < wave_of("own"));
        assert!(wave_of("sbom-of-pr") < wave_of("pr-single"));
        assert!(super::plan(&carried_out(&images, &plan), &pr(10), NOW).is_empty());
    }

    #[test]
    fn untagged_images_go_by_age_and_bytes_freed_count_shared_blobs_once() {
        let base = [blob("base", 50_000)];
        let images = vec![
            image("old", &[], 40, single("old", &base)),
            image("new", &[], 1, single("new", &[])),
            image("kept", &["main"], 50, single("kept", &base)),
            image("unknown-time", &[], 0, single("unknown-time", &[])),
        ];
        let mut images = images;
        images[3].pushed_at = None;
        let rules = Rules { untagged_older_than_days: Some(30), ..Rules::default() };
        let plan = plan(&images, &rules, NOW);
        assert_eq!(action_of(&plan, "old"), Action::Delete);
        assert!(reason_of(&plan, "old").contains("more than 30 days"), "{}", reason_of(&plan, "old"));
        assert_eq!(action_of(&plan, "new"), Action::Keep);
        assert_eq!(action_of(&plan, "unknown-time"), Action::Keep, "an unknown push time is never old");
        // The old image's own config, layer and manifest; the base layer stays with main.
        assert_eq!(plan.bytes_freed, 100 + 1_000 + 10);
        assert_eq!(plan.entries.iter().find(|e| e.digest == digest("old")).unwrap().size, 100 + 1_000 + 50_000 + 10);
        assert_eq!(plan.waves, vec![vec![ImageRef::Digest(digest("old"))]]);
    }

    #[test]
    fn a_pull_request_tag_beside_other_tags_only_loses_that_tag() {
        let images = vec![image("mixed", &["pr-7", "sha-ccccccc", "v1"], 1, single("mixed", &[]))];
        let plan = plan(&images, &pr(7), NOW);
        assert_eq!(action_of(&plan, "mixed"), untag(&["pr-7"]));
        assert_eq!(plan.waves, vec![vec![ImageRef::Tag("pr-7".into())]]);
        assert_eq!(plan.bytes_freed, 0);
    }

    #[test]
    fn manifests_are_read_for_children_subjects_attestations_and_blobs() {
        let index = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":5},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":5,
             "annotations":{"vnd.docker.reference.digest":"sha256:aa","vnd.docker.reference.type":"attestation-manifest"}}]}"#;
        let facts = ManifestFacts::parse(index).unwrap();
        assert_eq!(facts.children, ["sha256:aa", "sha256:bb"]);
        assert_eq!(facts.attests, [("sha256:bb".to_string(), "sha256:aa".to_string())]);
        assert_eq!(facts.length, index.len() as u64);
        let manifest = r#"{"schemaVersion":2,"config":{"digest":"sha256:c","size":7},"layers":[{"digest":"sha256:l","size":9}],
            "subject":{"digest":"sha256:s","size":3}}"#;
        let facts = ManifestFacts::parse(manifest).unwrap();
        assert_eq!(facts.blobs, [("sha256:c".to_string(), 7), ("sha256:l".to_string(), 9)]);
        assert_eq!(facts.subject.as_deref(), Some("sha256:s"));
        assert!(ManifestFacts::parse("[1]").is_err() && ManifestFacts::parse("{").is_err());
    }

    #[test]
    fn tag_globs_match_as_shells_do_and_refuse_what_no_tag_holds() {
        for (pattern, tag, expected) in [
            ("sha-*", "sha-0123abc", true),
            ("sha-*", "main", false),
            ("v?.*", "v1.2", true),
            ("v?.*", "v12.2", false),
            ("*", "anything", true),
            ("main", "main", true),
            ("main", "main2", false),
        ] {
            assert_eq!(TagGlob::new(pattern).unwrap().matches(tag), expected, "{pattern} vs {tag}");
        }
        for bad in ["", "a b", "x/y", &"a".repeat(129)] {
            assert!(TagGlob::new(bad).unwrap_err().contains("invalid --match"), "{bad}");
        }
        assert!(is_commit_tag("sha-0123abc") && !is_commit_tag("sha-xyz1234") && !is_commit_tag("sha-123"));
    }

    #[test]
    fn an_image_that_gained_a_tag_since_the_plan_is_not_deleted_by_digest() {
        let plan = Plan {
            entries: vec![Entry {
                digest: "sha256:a".into(),
                tags: vec!["pr-7".into()],
                size: 1,
                action: Action::Delete,
                reason: String::new(),
            }],
            bytes_freed: 1,
            waves: vec![vec![ImageRef::Digest("sha256:a".into())]],
        };
        let wave = plan.waves[0].clone();
        let now = |tags: &[&str]| -> BTreeMap<String, BTreeSet<String>> {
            [("sha256:a".to_string(), tags.iter().map(|t| t.to_string()).collect())].into_iter().collect()
        };
        // (the image's tags now, what the check says)
        type Tags = BTreeMap<String, BTreeSet<String>>;
        type Added = Option<(String, Vec<String>)>;
        let cases: Vec<(Tags, Added)> = vec![
            (now(&["pr-7"]), None),
            (now(&[]), None),
            (BTreeMap::new(), None),
            (now(&["pr-7", "main"]), Some(("sha256:a".into(), vec!["main".into()]))),
        ];
        for (current, expected) in cases {
            assert_eq!(plan.tags_added(&wave, &current), expected, "{current:?}");
        }
        assert_eq!(plan.tags_added(&[ImageRef::Tag("pr-7".into())], &now(&["pr-7", "main"])), None, "untags only");
    }
}
