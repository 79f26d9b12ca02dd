//! `ecr-ship tags`: the dry plan. Prints the tags this build would push (full references when the registry is
//! known) and writes the same step outputs a push would, without contacting AWS. Without a registry nothing names
//! an image: the deploy files (imagedefinitions.json, imageDetail.json) are skipped and the image URI and full
//! references are left out of every output, with a warning saying how to name the registry, since `team/app:tag`
//! alone would name a Docker Hub image.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::json;

use super::report;
use crate::config::TagsSettings;
use crate::log;
use crate::outputs::{self, ImageOutputs};

pub fn run(settings: &TagsSettings, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let context = &settings.tags.context;
    let planned = settings.tags.plan()?;
    log::info(format!(
        "{}: branch {}, commit {}, git tag {}, pull request {}; tags: {}",
        context.origin(),
        context.branch.as_deref().unwrap_or("-"),
        context.sha.as_deref().map_or("-", |s| &s[..s.len().min(12)]),
        context.git_tag.as_deref().unwrap_or("-"),
        context.pr.map_or("-".to_string(), |n| n.to_string()),
        planned.join(", ")
    ));
    let (labels, annotations) = settings.tags.labels(planned.first().map(String::as_str))?;
    let result = ImageOutputs {
        registry: settings.registry.clone(),
        repository: settings.repository.clone().unwrap_or_default(),
        tags: planned.clone(),
        digest: None,
        tag_mutability: None,
        labels,
        annotations,
    };
    let (json, export) = (settings.reporting.json, settings.outputs.export);
    if settings.repository.is_none() {
        // Without a repository there is no image to name: only the tags are an output.
        if let Some(path) = &settings.outputs.targets.github_output {
            let entry = ImageOutputs { repository: String::new(), ..result.clone() };
            let tags_only: String =
                outputs::github_output(&entry)?.split_inclusive('\n').skip_while(|l| !l.starts_with("tags")).collect();
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(tags_only.as_bytes()))
                .with_context(|| format!("writing GITHUB_OUTPUT '{}'", path.display()))?;
        }
        if json {
            let text = format!(
                "{}\n",
                json!({
                    "tags": planned,
                    "labels": result.to_json()["labels"],
                    "annotations": result.leveled_annotations(),
                    "context": context,
                })
            );
            return stdout.write_all(text.as_bytes()).context("writing to standard output");
        }
        return report::lines(&planned, stdout);
    }
    if result.registry.is_none() {
        warn_without_registry(settings, planned.first().map_or("TAG", String::as_str));
    }
    outputs::write_files(&result, &settings.outputs.targets, "planned tags", cwd)?;
    if json {
        let mut value = result.to_json();
        value["context"] = serde_json::to_value(context).context("serialising the CI context")?;
        stdout.write_all(format!("{value}\n").as_bytes()).context("writing to standard output")
    } else if export {
        stdout.write_all(outputs::export_lines(&result).as_bytes()).context("writing to standard output")
    } else {
        report::lines(&if result.registry.is_some() { result.references() } else { planned }, stdout)
    }
}

/// The warning of a dry run that cannot name the registry: which outputs it leaves out, why, and how to name it.
fn warn_without_registry(settings: &TagsSettings, primary: &str) {
    let targets = &settings.outputs.targets;
    let mut skipped = Vec::new();
    if targets.image_definitions.is_some() {
        skipped.push("imagedefinitions.json");
    }
    if targets.image_detail {
        skipped.push("imageDetail.json");
    }
    let mut left_out = Vec::new();
    if settings.outputs.export {
        left_out.push("the IMAGE_URI export");
    }
    if targets.properties_file.is_some() || targets.dotenv_file.is_some() || targets.json_file.is_some() {
        left_out.push("IMAGE_URI in the output files");
    }
    if targets.github_output.is_some() {
        left_out.push("the image-uri and image-refs outputs");
    }
    if skipped.is_empty() && left_out.is_empty() {
        return;
    }
    let mut what = Vec::new();
    if !skipped.is_empty() {
        what.push(format!("skipped {}", skipped.join(" and ")));
    }
    if !left_out.is_empty() {
        what.push(format!("left out {}", left_out.join(", ")));
    }
    log::warn(
        format!(
            "the dry run {}: it cannot name the registry without contacting AWS, and '{}:{}' alone would name a              Docker Hub image; name it with --registry HOST or --account-id ACCOUNT and a region (the action's              `registry` or `account-id` and `aws-region` inputs)",
            what.join(", and "),
            settings.repository.as_deref().unwrap_or_default(),
            primary
        ),
        settings.tags.github,
    );
}
