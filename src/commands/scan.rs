//! `ecr-ship scan REF` and the gate of `push --scan-fail-on`: wait for the image's ECR scan, judge its findings,
//! report them, and fail with exit 3 when one at or above the threshold is not ignored.
//!
//! Plan: the ignore list is split at the settings' instant (each expired entry is a warning naming it). Act: the
//! session waits for the scan (`Session::wait_for_scan`). Report: the counts on standard error, the SARIF file,
//! the job summary's table, the count outputs (`SCAN_CRITICAL=…`) in `$GITHUB_OUTPUT`, the Jenkins properties and
//! dotenv files, `--export` lines and `--json`; then the verdict, a [`GateFailed`] error when the gate failed. The
//! judging is the pure `scan` module's.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::report;
use crate::aws::Session;
use crate::ci::EnvMap;
use crate::config::{OutputSettings, Reporting, ScanGateSettings, ScanSettings};
use crate::error::{GateFailed, after_contact};
use crate::log;
use crate::outputs::{self, ImageOutputs};
use crate::scan::{Evaluation, IgnoreList, Severity, sarif, summary};

pub async fn run(settings: &ScanSettings, env: &EnvMap, cwd: &Path, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let ignores = ignore_list(&settings.gate, settings.reporting.github);
    let evaluation = act(settings, env, &ignores).await.map_err(after_contact)?;
    write_reports(&evaluation, &settings.gate, &settings.outputs, cwd)?;
    let text = if settings.reporting.json {
        format!("{}\n", evaluation.to_json())
    } else if settings.outputs.export {
        outputs::export_fields(&evaluation.fields())
    } else {
        counts_table(&evaluation)
    };
    stdout.write_all(text.as_bytes()).context("writing to standard output")?;
    verdict(&evaluation)
}

async fn act(settings: &ScanSettings, env: &EnvMap, ignores: &IgnoreList) -> anyhow::Result<Evaluation> {
    let repository = settings.repository.as_str();
    let session = settings.aws.connect(env).await?;
    let Some(info) = session.describe_repository(repository).await? else {
        anyhow::bail!("repository '{repository}' does not exist in {}", session.region());
    };
    let registry = info.uri.split('/').next().unwrap_or_default().to_string();
    evaluate(&session, &registry, repository, &settings.reference, &settings.gate, ignores).await
}

/// The gate of `push --scan-fail-on`, on the pushed digest: the push's outputs are written whatever the scan
/// says (the image is in ECR either way); the scan's follow them, and `--json` carries both in one object.
pub(super) async fn after_push(
    gate: &ScanGateSettings,
    session: &Session,
    pushed: &ImageOutputs,
    outputs: &OutputSettings,
    reporting: &Reporting,
    cwd: &Path,
    stdout: &mut dyn Write,
) -> anyhow::Result<()> {
    let ignores = ignore_list(gate, reporting.github);
    let digest = pushed.digest.as_deref().context("the push reported no digest to scan")?;
    let registry = pushed.registry.clone().unwrap_or_default();
    let scanned = evaluate(session, &registry, &pushed.repository, digest, gate, &ignores).await;
    let mut image_result = Vec::new();
    report::image(pushed, outputs, reporting, "pushed", cwd, &mut image_result)?;
    let evaluation = match scanned {
        Ok(evaluation) => evaluation,
        Err(error) => {
            stdout.write_all(&image_result).context("writing to standard output")?;
            return Err(error);
        }
    };
    write_reports(&evaluation, gate, outputs, cwd)?;
    let text = if reporting.json {
        let mut document: serde_json::Value =
            serde_json::from_slice(&image_result).context("reading back the push's JSON result")?;
        document["scan"] = evaluation.to_json();
        format!("{document}\n").into_bytes()
    } else if outputs.export {
        [image_result, outputs::export_fields(&evaluation.fields()).into_bytes()].concat()
    } else {
        image_result
    };
    stdout.write_all(&text).context("writing to standard output")?;
    verdict(&evaluation)
}

/// The ignore list at the gate's instant; each expired entry is a warning that names it.
fn ignore_list(gate: &ScanGateSettings, github: bool) -> IgnoreList {
    let list = IgnoreList::at(&gate.ignores, gate.now);
    for warning in list.expiry_warnings() {
        log::warn(warning, github);
    }
    list
}

/// Waits for the scan of `repository` `reference` and judges it; the image is named by digest when the scan says it.
async fn evaluate(
    session: &Session,
    registry: &str,
    repository: &str,
    reference: &str,
    gate: &ScanGateSettings,
    ignores: &IgnoreList,
) -> anyhow::Result<Evaluation> {
    let found = session.wait_for_scan(repository, reference, gate.timeout).await?;
    let image = match (&found.digest, crate::digest::is_digest(reference)) {
        (Some(digest), _) => format!("{registry}/{repository}@{digest}"),
        (None, true) => format!("{registry}/{repository}@{reference}"),
        (None, false) => format!("{registry}/{repository}:{reference}"),
    };
    let evaluation = Evaluation::new(image, found.scanning, found.findings, ignores, gate.threshold);
    for (finding, ignore) in &evaluation.ignored {
        log::info(format!(
            "ignored {} ({}): {}",
            finding.id,
            finding.severity,
            ignore.reason.as_deref().unwrap_or("--scan-ignore")
        ));
    }
    log::info(format!("scan of {} ({} scanning): {}", evaluation.image, evaluation.scanning, evaluation.counts_line()));
    Ok(evaluation)
}

/// The SARIF file, the job summary's section and the count outputs.
fn write_reports(
    evaluation: &Evaluation,
    gate: &ScanGateSettings,
    outputs: &OutputSettings,
    cwd: &Path,
) -> anyhow::Result<()> {
    if let Some(path) = &gate.sarif {
        let mut text = serde_json::to_string_pretty(&sarif::sarif(evaluation, env!("CARGO_PKG_VERSION")))
            .context("serialising the SARIF log")?;
        text.push('\n');
        outputs::write_file(path, text.as_bytes(), gate.follow_symlinks).context("writing the SARIF file")?;
        log::info(format!("wrote SARIF 2.1.0 to {}", path.display()));
    }
    outputs::append_summary(&summary::markdown(evaluation), &outputs.targets)?;
    outputs::append_fields(&evaluation.fields(), ("scan", &evaluation.to_json()), &outputs.targets, cwd)
}

/// The counts on standard output, one severity a line.
fn counts_table(evaluation: &Evaluation) -> String {
    let counts = evaluation.counts();
    let mut text: String = Severity::ALL.iter().map(|s| format!("{:<14}{}\n", s.name(), counts[s])).collect();
    text.push_str(&format!("{:<14}{}\n", "IGNORED", evaluation.ignored.len()));
    text
}

/// Exit 3 (a [`GateFailed`]) when the gate failed; a line saying it passed otherwise.
fn verdict(evaluation: &Evaluation) -> anyhow::Result<()> {
    if let Some(message) = evaluation.failure_message() {
        return Err(anyhow::Error::new(GateFailed(message)));
    }
    if let Some(threshold) = evaluation.threshold {
        log::info(format!("the vulnerability gate passed: no finding at or above {threshold}"));
    }
    Ok(())
}
