//! `ecr-ship prune`: remove pull-request and superseded images from a repository.
//!
//! Plan: every image of the repository (DescribeImages) with its manifest (BatchGetImage), weighed by the pure
//! `prune::plan` (what goes, what stays, and why). Act, with `--apply` only: refuse a plan deleting more than
//! `--max` images before deleting anything, then BatchDeleteImage wave by wave (tag removals, then digests, parents
//! before what they point at), stopping at the first wave ECR refuses part of. Report: the plan on standard output
//! (or `--json`, or `--export` lines), what was removed and the bytes freed in every output file and the job
//! summary; then an error when ECR refused something or `--max` stopped the run.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::json;

use crate::aws::storage::human_size;
use crate::aws::{DeleteFailure, Session};
use crate::ci::EnvMap;
use crate::config::PruneSettings;
use crate::error::after_contact;
use crate::log;
use crate::outputs;
use crate::prune::{self, Action, ImageRef, Plan, StoredImage, short_digest};

/// What a run planned and did.
struct Outcome {
    repository: String,
    plan: Plan,
    images: Vec<StoredImage>,
    /// `--apply` was given and the plan was carried out (as far as ECR let it).
    applied: bool,
    /// The plan deletes more images than `--max` allows: nothing was deleted.
    over_max: bool,
    failures: Vec<DeleteFailure>,
    /// Ids of the waves after the one ECR refused part of (or of the call that failed, and after): not counted as
    /// removed.
    not_attempted: Vec<ImageRef>,
    /// A BatchDeleteImage call that failed outright (throttled past the SDK's retries, denied, the network): the
    /// outputs still say what the earlier calls removed, then the run fails with it.
    interrupted: Option<anyhow::Error>,
}

impl Outcome {
    /// The ids of the plan that are (or, in a dry run, would be) gone.
    fn gone(&self) -> BTreeSet<ImageRef> {
        let refused: BTreeSet<&ImageRef> =
            self.failures.iter().map(|f| &f.image).chain(self.not_attempted.iter()).collect();
        self.plan.waves.iter().flatten().filter(|id| !refused.contains(id)).cloned().collect()
    }

    fn removed_digests(&self) -> Vec<String> {
        let gone = self.gone();
        let entries = self.plan.deleted().filter(|e| gone.contains(&ImageRef::Digest(e.digest.clone())));
        entries.map(|e| e.digest.clone()).collect()
    }

    fn removed_tags(&self) -> Vec<String> {
        let gone = self.gone();
        let mut tags = Vec::new();
        for entry in &self.plan.entries {
            match &entry.action {
                Action::Delete if gone.contains(&ImageRef::Digest(entry.digest.clone())) => {
                    tags.extend(entry.tags.iter().cloned())
                }
                Action::Untag(removed) => {
                    tags.extend(removed.iter().filter(|t| gone.contains(&ImageRef::Tag(t.to_string()))).cloned())
                }
                _ => {}
            }
        }
        tags.sort();
        tags
    }

    fn bytes_freed(&self) -> u64 {
        if self.failures.is_empty() && self.not_attempted.is_empty() {
            return self.plan.bytes_freed;
        }
        let removed: BTreeSet<String> = self.removed_digests().into_iter().collect();
        prune::bytes_freed(&self.images, &removed)
    }

    /// Whether the run went ahead: a dry run always does; an applied one unless --max stopped it.
    fn went_ahead(&self) -> bool {
        !self.over_max || !self.applied
    }

    fn fields(&self) -> Vec<(&'static str, &'static str, String)> {
        let (digests, tags, bytes) = if self.went_ahead() {
            (self.removed_digests(), self.removed_tags(), self.bytes_freed())
        } else {
            (Vec::new(), Vec::new(), 0)
        };
        vec![
            ("repository", "IMAGE_REPOSITORY", self.repository.clone()),
            ("prune-applied", "PRUNE_APPLIED", (self.applied && !self.over_max).to_string()),
            ("pruned-images", "PRUNED_IMAGES", digests.len().to_string()),
            ("pruned-digests", "PRUNED_DIGESTS", digests.join("\n")),
            ("pruned-tags", "PRUNED_TAGS", tags.join("\n")),
            ("bytes-freed", "PRUNED_BYTES", bytes.to_string()),
        ]
    }

    fn to_json(&self) -> serde_json::Value {
        let images: Vec<serde_json::Value> = self
            .plan
            .entries
            .iter()
            .map(|entry| {
                let (action, removes): (&str, Vec<String>) = match &entry.action {
                    Action::Delete => ("delete", entry.tags.clone()),
                    Action::Untag(tags) => ("untag", tags.clone()),
                    Action::Keep => ("keep", Vec::new()),
                };
                json!({
                    "digest": entry.digest, "tags": entry.tags, "size": entry.size, "action": action,
                    "removes_tags": removes, "reason": entry.reason,
                })
            })
            .collect();
        let fields = self.fields();
        let field =
            |name: &str| fields.iter().find(|(n, _, _)| *n == name).map(|(_, _, v)| v.clone()).unwrap_or_default();
        let lines = |name: &str| field(name).lines().map(str::to_string).collect::<Vec<_>>();
        json!({
            "repository": self.repository,
            "applied": self.applied && !self.over_max,
            "pruned_images": lines("pruned-digests").len(),
            "pruned_digests": lines("pruned-digests"),
            "pruned_tags": lines("pruned-tags"),
            "bytes_freed": field("bytes-freed").parse::<u64>().unwrap_or_default(),
            "images": images,
        })
    }
}

pub async fn run(settings: &PruneSettings, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    if settings.rules.untagged_older_than_days == Some(0) {
        log::warn(
            "--untagged-older-than 0 takes every untagged image, also the per-platform --by-digest pushes of a \
             build whose merge has not run yet; a day or more leaves them to the merge",
            settings.reporting.github,
        );
    }
    let session = settings.aws.connect(env).await.map_err(after_contact)?;
    let mut outcome = act(settings, &session).await.map_err(after_contact)?;
    report(&outcome, settings, cwd, stdout)?;
    let (targets, github) = (&settings.outputs.targets, settings.reporting.github);
    super::report::storage(&session, &settings.repository, &settings.storage, targets, github, true).await;
    if let Some(error) = outcome.interrupted.take() {
        let removed = outcome.removed_digests().len();
        return Err(after_contact(error.context(format!(
            "the prune of '{}' stopped after deleting {}; the outputs say what went, and a re-run carries on",
            settings.repository,
            counted(removed, "image")
        ))));
    }
    verdict(&outcome, settings).map_err(after_contact)
}

async fn act(settings: &PruneSettings, session: &Session) -> anyhow::Result<Outcome> {
    let repository = settings.repository.as_str();
    if session.describe_repository(repository).await?.is_none() {
        anyhow::bail!("repository '{repository}' does not exist in {}: there is nothing to prune", session.region());
    }
    let images = session.repository_images(repository).await?;
    let plan = prune::plan(&images, &settings.rules, settings.now);
    log::info(format!(
        "prune of '{repository}': {} images; the rules take {}",
        images.len(),
        settings.rules.describe()
    ));
    let deleting = plan.deleted().count();
    let over_max = deleting > settings.max;
    let mut outcome = Outcome {
        repository: repository.to_string(),
        plan,
        images,
        applied: settings.apply,
        over_max,
        failures: Vec::new(),
        not_attempted: Vec::new(),
        interrupted: None,
    };
    if !settings.apply || over_max {
        return Ok(outcome);
    }
    let mut waves = outcome.plan.waves.clone().into_iter();
    for wave in waves.by_ref() {
        // The plan is a snapshot: an image another job tagged since (a promotion right after the merge) would lose
        // that tag with a delete by digest. Each wave is checked against the tags as they are now.
        let current = match session.current_tags(repository).await {
            Ok(current) => current,
            Err(error) => {
                outcome.not_attempted.extend(wave);
                outcome.interrupted = Some(error);
                break;
            }
        };
        if let Some((digest, added)) = outcome.plan.tags_added(&wave, &current) {
            let reason = format!(
                "it gained the tag{} {} since the plan was made; nothing more was deleted (run the prune again to \
                 plan anew)",
                if added.len() == 1 { "" } else { "s" },
                added.join(", ")
            );
            let image = ImageRef::Digest(digest);
            outcome.not_attempted.extend(wave.into_iter().filter(|id| *id != image));
            outcome.failures = vec![DeleteFailure { image, code: "TagsChanged".into(), reason }];
            break;
        }
        match session.delete_images(repository, &wave).await {
            Ok(failures) if failures.is_empty() => {}
            Ok(failures) => {
                outcome.failures = failures;
                break;
            }
            Err(error) => {
                outcome.not_attempted.extend(wave);
                outcome.interrupted = Some(error);
                break;
            }
        }
    }
    outcome.not_attempted.extend(waves.flatten());
    Ok(outcome)
}

fn report(outcome: &Outcome, settings: &PruneSettings, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let json = outcome.to_json();
    let fields = outcome.fields();
    outputs::write_fields(&fields, &json, &settings.outputs.targets, cwd)?;
    outputs::append_summary(&summary(outcome), &settings.outputs.targets)?;
    let text = if settings.reporting.json {
        format!("{json}\n")
    } else if settings.outputs.export {
        let joined: Vec<_> = fields.iter().map(|(n, k, v)| (*n, *k, v.replace('\n', ","))).collect();
        outputs::export_fields(&joined)
    } else {
        plan_table(&outcome.plan)
    };
    stdout.write_all(text.as_bytes()).context("writing to standard output")?;
    let (images, bytes) = (outcome.removed_digests().len(), human_size(outcome.bytes_freed()));
    let tags = outcome.removed_tags().len();
    if outcome.plan.is_empty() {
        log::info(format!("nothing to prune in '{}'", outcome.repository));
    } else if !settings.apply {
        log::info(format!(
            "dry run: --apply would delete {} and remove {}, freeing {bytes}; nothing was deleted",
            counted(images, "image"),
            counted(tags, "tag")
        ));
    } else if outcome.went_ahead() {
        log::info(format!(
            "deleted {} and removed {} from '{}', freeing {bytes}",
            counted(images, "image"),
            counted(tags, "tag"),
            outcome.repository
        ));
    }
    if outcome.over_max && !settings.apply {
        log::warn(
            format!(
                "the plan deletes {} images, more than --max {}: --apply would refuse it; raise --max to allow it",
                outcome.plan.deleted().count(),
                settings.max
            ),
            settings.reporting.github,
        );
    }
    Ok(())
}

/// The error a run ends with: `--max` exceeded (nothing deleted), or ECR refusing part of the plan.
fn verdict(outcome: &Outcome, settings: &PruneSettings) -> anyhow::Result<()> {
    if outcome.applied && outcome.over_max {
        anyhow::bail!(
            "the plan deletes {} images from '{}', more than --max {}; nothing was deleted: read the plan above, then \
             run again with --max {} (or narrower rules)",
            outcome.plan.deleted().count(),
            outcome.repository,
            settings.max,
            outcome.plan.deleted().count()
        );
    }
    if let Some(first) = outcome.failures.first() {
        let shown = |image: &ImageRef| match image {
            ImageRef::Digest(digest) => digest.clone(),
            ImageRef::Tag(tag) => format!("tag {tag}"),
        };
        anyhow::bail!(
            "BatchDeleteImage refused {} of the ids in '{}', first {} ({}: {}); {} later ids were not sent. What was \
             removed is in the outputs; run the prune again once the cause is fixed",
            outcome.failures.len(),
            outcome.repository,
            shown(&first.image),
            first.code,
            first.reason,
            outcome.not_attempted.len()
        );
    }
    Ok(())
}

/// `1 image`, `2 images`.
fn counted(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

/// The plan, one image a line: what happens, the digest, the tags, the size, and why.
fn plan_table(plan: &Plan) -> String {
    plan.entries
        .iter()
        .map(|entry| {
            let action = match &entry.action {
                Action::Delete => "delete",
                Action::Untag(_) => "untag",
                Action::Keep => "keep",
            };
            let tags = if entry.tags.is_empty() { "(untagged)".to_string() } else { entry.tags.join(",") };
            format!(
                "{action:<8}{}  {tags}  {}  {}\n",
                short_digest(&entry.digest),
                human_size(entry.size),
                entry.reason
            )
        })
        .collect()
}

/// The job summary: what went (or would go), what was freed; the kept images are counted, not listed.
fn summary(outcome: &Outcome) -> String {
    let title = if outcome.applied && !outcome.over_max { "pruned" } else { "prune plan (dry run)" };
    let mut text = format!("### ecr-ship: {title} `{}`\n\n", outcome.repository);
    let changed: Vec<_> = outcome.plan.entries.iter().filter(|e| e.action != Action::Keep).collect();
    if changed.is_empty() {
        text.push_str("Nothing to prune.\n\n");
        return text;
    }
    text.push_str("| Action | Image | Tags | Size | Why |\n| --- | --- | --- | --- | --- |\n");
    for entry in changed {
        let action = match &entry.action {
            Action::Untag(tags) => format!("untag {}", tags.join(", ")),
            _ => "delete".to_string(),
        };
        let tags = entry.tags.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(" ");
        text.push_str(&format!(
            "| {action} | `{}` | {tags} | {} | {} |\n",
            short_digest(&entry.digest),
            human_size(entry.size),
            entry.reason.replace('|', "\\|")
        ));
    }
    let kept = outcome.plan.entries.iter().filter(|e| e.action == Action::Keep).count();
    let verb = if outcome.applied && !outcome.over_max { "Freed" } else { "Would free" };
    text.push_str(&format!(
        "\n{verb} {} ({}, {}); {} kept.\n\n",
        human_size(outcome.bytes_freed()),
        counted(outcome.removed_digests().len(), "image"),
        counted(outcome.removed_tags().len(), "tag"),
        counted(kept, "image")
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prune::{ManifestFacts, Rules};

    fn image(name: &str, tags: &[&str], manifest: ManifestFacts) -> StoredImage {
        let tags = tags.iter().map(|t| t.to_string()).collect();
        StoredImage { digest: crate::digest::sha256_digest(name.as_bytes()), tags, pushed_at: Some(0), manifest }
    }

    fn blobs(name: &str) -> ManifestFacts {
        let blob = (crate::digest::sha256_digest(format!("{name} layer").as_bytes()), 1_000);
        ManifestFacts { length: 10, blobs: vec![blob], ..ManifestFacts::default() }
    }

    /// Pull request 7's index with two untagged children, beside `main`: two waves (the index, then its children).
    fn outcome(applied: bool, failed_wave: Option<usize>) -> Outcome {
        let child = |n: &str| crate::digest::sha256_digest(n.as_bytes());
        let index = ManifestFacts { length: 10, children: vec![child("a"), child("b")], ..ManifestFacts::default() };
        let images = vec![
            image("index", &["pr-7"], index),
            image("a", &[], blobs("a")),
            image("b", &[], blobs("b")),
            image("main", &["main"], blobs("main")),
        ];
        let plan = prune::plan(&images, &Rules { pr: Some(7), ..Rules::default() }, 0);
        let mut outcome = Outcome {
            repository: "team/app".into(),
            plan,
            images,
            applied,
            over_max: false,
            failures: Vec::new(),
            not_attempted: Vec::new(),
            interrupted: None,
        };
        if let Some(wave) = failed_wave {
            let waves = outcome.plan.waves.clone();
            let first = waves[wave][0].clone();
            outcome.failures = vec![DeleteFailure { image: first, code: "KmsError".into(), reason: "r".into() }];
            outcome.not_attempted = waves[wave + 1..].iter().flatten().cloned().collect();
        }
        outcome
    }

    fn field(outcome: &Outcome, name: &str) -> String {
        outcome.fields().into_iter().find(|(n, _, _)| *n == name).map(|(_, _, v)| v).unwrap()
    }

    #[test]
    fn what_was_removed_counts_only_what_ecr_took() {
        let whole = outcome(true, None);
        assert_eq!(whole.plan.waves.len(), 2, "the index, then its children: {:?}", whole.plan.waves);
        assert_eq!(field(&whole, "pruned-images"), "3");
        assert_eq!(field(&whole, "pruned-tags"), "pr-7");
        assert_eq!(field(&whole, "bytes-freed"), (10 + 2 * 1_010).to_string());
        assert_eq!(field(&whole, "prune-applied"), "true");

        // ECR refused one child of the second wave: the index and the other child went, and what they alone held.
        let partial = outcome(true, Some(1));
        assert_eq!(field(&partial, "pruned-images"), "2");
        assert_eq!(field(&partial, "bytes-freed"), (10 + 1_010).to_string());
        assert!(verdict(&partial, &settings()).unwrap_err().to_string().contains("KmsError"));

        // A dry run says what --apply would do, and that it did not.
        let dry = outcome(false, None);
        assert_eq!((field(&dry, "pruned-images").as_str(), field(&dry, "prune-applied").as_str()), ("3", "false"));
        assert!(summary(&dry).contains("prune plan (dry run)") && summary(&dry).contains("Would free"));

        // --max stopped an applied run: nothing is reported removed.
        let stopped = Outcome { over_max: true, ..outcome(true, None) };
        assert_eq!(field(&stopped, "pruned-images"), "0");
        assert!(verdict(&stopped, &settings()).unwrap_err().to_string().contains("more than --max"));
    }

    fn settings() -> PruneSettings {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "ecr-ship",
            "prune",
            "--repository",
            "team/app",
            "--region",
            "us-east-1",
            "--pr",
            "7",
        ])
        .unwrap();
        let env: EnvMap = [("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string())].into_iter().collect();
        let dir = tempfile::tempdir().unwrap();
        match crate::config::resolve(&cli.command, &env, dir.path()).unwrap() {
            crate::config::Settings::Prune(settings) => *settings,
            other => panic!("{other:?}"),
        }
    }
}
