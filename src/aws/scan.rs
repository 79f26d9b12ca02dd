//! Image scan findings through the ECR API: DescribeImageScanFindings (every page), StartImageScan, and the wait
//! for a scan's result within `--scan-timeout`.
//!
//! Basic scanning: when the image has no scan (ScanNotFoundException, as when scan-on-push is off), one
//! StartImageScan is sent, then the findings are polled. Enhanced scanning (Amazon Inspector) reports through the
//! same call: `enhancedFindings`, with the status ACTIVE once Inspector has results; its findings are read as they
//! are then (suppressed and closed ones are left out). IN_PROGRESS and PENDING mean "wait"; FAILED,
//! UNSUPPORTED_IMAGE and the other final statuses are errors that say what ECR said. Polls back off from 2 s to
//! 30 s and never sleep past the deadline. The findings become the pure [`Finding`]s the gate judges.

use std::time::Duration;

use aws_sdk_ecr::types::{EnhancedImageScanFinding, ImageIdentifier, ImageScanFinding, ScanStatus};

use super::ecr::EcrApi;
use crate::digest::is_digest;
use crate::scan::{Finding, Severity};

/// What an image's scan has to show.
#[derive(Debug, Clone)]
pub struct ScanFindings {
    /// The image's manifest digest, as the scan names it.
    pub digest: Option<String>,
    /// `basic` or `enhanced`.
    pub scanning: &'static str,
    pub findings: Vec<Finding>,
}

/// One look at an image's scan.
enum Poll {
    /// The image has no scan (ScanNotFoundException).
    NotFound,
    /// A scan is queued or running.
    Waiting(String),
    Ready(ScanFindings),
}

fn image_id(reference: &str) -> ImageIdentifier {
    if is_digest(reference) {
        ImageIdentifier::builder().image_digest(reference).build()
    } else {
        ImageIdentifier::builder().image_tag(reference).build()
    }
}

/// Waits for the scan of `repository` `reference` (a tag or digest) and returns its findings; starts a basic scan
/// once when there is none. Gives up after `timeout` with an error saying what was last seen.
pub(super) async fn wait_for_findings(
    api: &EcrApi,
    repository: &str,
    reference: &str,
    timeout: Duration,
) -> anyhow::Result<ScanFindings> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut delay = Duration::from_secs(2);
    let mut started = false;
    let mut last = String::from("no scan yet");
    loop {
        match describe(api, repository, reference).await? {
            Poll::Ready(findings) => return Ok(findings),
            Poll::NotFound if !started => {
                started = true;
                if start(api, repository, reference).await? {
                    crate::log::info(format!(
                        "{repository}:{reference} had no scan: started one (StartImageScan); waiting up to {}s",
                        timeout.as_secs()
                    ));
                    continue;
                }
                last = "no scan, and StartImageScan did not start one".into();
            }
            Poll::NotFound => {}
            Poll::Waiting(status) => {
                if status != last {
                    crate::log::info(format!("scan of {repository}:{reference}: {status}; waiting"));
                }
                last = status;
            }
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            anyhow::bail!(
                "the scan of {repository}:{reference} had no result within --scan-timeout {}s (last seen: {last}); \
                 raise --scan-timeout (or scan: timeout: in the config file), or look at the image's scan in the \
                 ECR console",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(delay.min(deadline - now)).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// One DescribeImageScanFindings, with every page of findings when the scan is done.
async fn describe(api: &EcrApi, repository: &str, reference: &str) -> anyhow::Result<Poll> {
    let mut findings = Vec::new();
    let mut enhanced = false;
    let mut digest = None;
    let mut next_token: Option<String> = None;
    loop {
        let result = api
            .client
            .describe_image_scan_findings()
            .set_registry_id(api.registry_account().map(String::from))
            .repository_name(repository)
            .image_id(image_id(reference))
            .max_results(1000)
            .set_next_token(next_token.take())
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_scan_not_found_exception()) => {
                return Ok(Poll::NotFound);
            }
            Err(error) if error.as_service_error().is_some_and(|e| e.is_image_not_found_exception()) => {
                anyhow::bail!("there is no image '{reference}' in repository '{repository}' to read the scan of");
            }
            Err(error) => {
                return Err(api.explain(
                    "DescribeImageScanFindings",
                    "ecr:DescribeImageScanFindings",
                    repository,
                    error,
                ));
            }
        };
        let status = output.image_scan_status();
        let description = status.and_then(|s| s.description()).unwrap_or_default().trim().to_string();
        let said = if description.is_empty() { String::new() } else { format!(": {description}") };
        match status.and_then(|s| s.status()) {
            Some(ScanStatus::Complete) => {}
            Some(ScanStatus::Active) => enhanced = true,
            Some(ScanStatus::InProgress) => return Ok(Poll::Waiting(format!("IN_PROGRESS{said}"))),
            Some(ScanStatus::Pending) => return Ok(Poll::Waiting(format!("PENDING{said}"))),
            Some(ScanStatus::Failed) => {
                anyhow::bail!("the scan of {repository}:{reference} FAILED{said}")
            }
            Some(ScanStatus::UnsupportedImage) => anyhow::bail!(
                "ECR cannot scan {repository}:{reference} (UNSUPPORTED_IMAGE{said}): its operating system or \
                 packages are not supported by the registry's scanning"
            ),
            Some(other) => anyhow::bail!(
                "the scan of {repository}:{reference} has no findings to judge: its status is {}{said}",
                other.as_str()
            ),
            None => anyhow::bail!("DescribeImageScanFindings for {repository}:{reference} returned no scan status"),
        }
        if digest.is_none() {
            digest = output.image_id().and_then(|id| id.image_digest()).map(String::from);
        }
        if let Some(scan) = output.image_scan_findings() {
            findings.extend(scan.findings().iter().map(basic_finding));
            let current = scan.enhanced_findings().iter().filter(|f| {
                !matches!(f.status().map(str::to_ascii_uppercase).as_deref(), Some("SUPPRESSED" | "CLOSED"))
            });
            let before = findings.len();
            findings.extend(current.map(enhanced_finding));
            enhanced |= findings.len() > before;
        }
        match output.next_token().filter(|t| !t.is_empty()) {
            Some(token) => next_token = Some(token.to_string()),
            None => break,
        }
    }
    Ok(Poll::Ready(ScanFindings { digest, scanning: if enhanced { "enhanced" } else { "basic" }, findings }))
}

/// StartImageScan. True when a scan was started; false when ECR says none can be (a basic scan of the image today
/// already, or a registry with enhanced scanning, which scans by itself), so the wait goes on.
async fn start(api: &EcrApi, repository: &str, reference: &str) -> anyhow::Result<bool> {
    let result = api
        .client
        .start_image_scan()
        .set_registry_id(api.registry_account().map(String::from))
        .repository_name(repository)
        .image_id(image_id(reference))
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(error) => {
            let service = error.as_service_error();
            if service.is_some_and(|e| e.is_limit_exceeded_exception() || e.is_validation_exception()) {
                let code = service.and_then(aws_sdk_ecr::error::ProvideErrorMetadata::code).unwrap_or("refused");
                crate::log::info(format!(
                    "StartImageScan for {repository}:{reference} was refused ({code}); waiting for the registry's own scan"
                ));
                return Ok(false);
            }
            if service.is_some_and(|e| e.is_unsupported_image_type_exception()) {
                anyhow::bail!(
                    "ECR cannot scan {repository}:{reference}: StartImageScan says the image type is unsupported"
                );
            }
            Err(api.explain("StartImageScan", "ecr:StartImageScan", repository, error))
        }
    }
}

fn basic_finding(finding: &ImageScanFinding) -> Finding {
    let attribute =
        |key: &str| finding.attributes().iter().find(|a| a.key() == key).and_then(|a| a.value()).map(String::from);
    let score = attribute("CVSS3_SCORE").or_else(|| attribute("CVSS2_SCORE")).and_then(|s| s.parse().ok());
    Finding {
        id: finding.name().unwrap_or("unnamed finding").to_string(),
        severity: Severity::from_ecr(finding.severity().map(|s| s.as_str()).unwrap_or_default()),
        package: attribute("package_name"),
        version: attribute("package_version"),
        fixed_in: None,
        uri: finding.uri().map(String::from),
        description: finding.description().map(String::from),
        score,
    }
}

fn enhanced_finding(finding: &EnhancedImageScanFinding) -> Finding {
    let details = finding.package_vulnerability_details();
    let packages = details.map(|d| d.vulnerable_packages()).unwrap_or_default();
    let joined = |values: Vec<&str>| (!values.is_empty()).then(|| values.join(", "));
    let fixed: Vec<&str> = packages
        .iter()
        .filter_map(|p| p.fixed_in_version())
        .filter(|v| !v.eq_ignore_ascii_case("NotAvailable"))
        .collect();
    let uri = details
        .and_then(|d| d.source_url().or_else(|| d.reference_urls().first().map(String::as_str)))
        .or_else(|| finding.remediation().and_then(|r| r.recommendation()).and_then(|r| r.url()));
    Finding {
        id: details
            .and_then(|d| d.vulnerability_id())
            .or(finding.title())
            .or(finding.finding_arn())
            .unwrap_or("unnamed finding")
            .to_string(),
        severity: Severity::from_ecr(finding.severity().unwrap_or_default()),
        package: joined(packages.iter().filter_map(|p| p.name()).collect()),
        version: joined(packages.iter().filter_map(|p| p.version()).collect()),
        fixed_in: joined(fixed),
        uri: uri.map(String::from),
        description: finding.description().or(finding.title()).map(String::from),
        score: Some(finding.score()).filter(|s| *s > 0.0),
    }
}
