//! `ecr-ship tags`: the dry plan. Prints the tags this build would push (full references when the registry is
//! known) and writes the same step outputs a push would, without contacting AWS.

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
