//! SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`), from a gate [`Evaluation`].
//!
//! What upload-sarif reads (GitHub's "SARIF support for code scanning"): `version` 2.1.0 and `$schema`, one run whose
//! `tool.driver` has a `name` and the `rules`, one rule per finding id (`shortDescription`, `fullDescription`,
//! `helpUri`, `help`, and `properties.security-severity`, the number GitHub ranks security alerts by, plus `tags`),
//! and results with `ruleId`, `level`, `message.text` and one location whose `physicalLocation.artifactLocation.uri`
//! is, for an image, the image reference (`registry/repository@sha256:…`, a relative URI reference) at line 1, and
//! a `partialFingerprints` entry so an alert keeps its identity across pushes of new digests. The level and the
//! security-severity follow ECR's severity (the one the gate uses), not a CVSS score. Ignored findings are left out.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Evaluation, Finding, Severity};
use crate::digest::sha256_digest;

/// The schema URI SARIF files name (the OASIS TC's `sarif-schema-2.1.0.json`).
pub const SCHEMA_URI: &str =
    "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";

/// SARIF's result level for a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Informational | Severity::Undefined => "note",
    }
}

/// GitHub's `security-severity` (0.0-10.0; critical is above 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9).
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Informational | Severity::Undefined => "0.0",
    }
}

/// The SARIF log of one image's findings; `tool_version` is ecr-ship's.
pub fn sarif(evaluation: &Evaluation, tool_version: &str) -> Value {
    // One rule per id, at its highest severity; results point at their rule by index.
    let mut rules: BTreeMap<&str, &Finding> = BTreeMap::new();
    for finding in &evaluation.findings {
        let entry = rules.entry(finding.id.as_str()).or_insert(finding);
        if finding.severity > entry.severity {
            *entry = finding;
        }
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(n, id)| (*id, n)).collect();
    let rules_json: Vec<Value> = rules.values().map(|finding| rule(finding)).collect();
    let results: Vec<Value> = evaluation
        .findings
        .iter()
        .map(|finding| {
            let fingerprint = sha256_digest(
                format!(
                    "{}|{}|{}",
                    finding.id,
                    finding.package.as_deref().unwrap_or_default(),
                    finding.version.as_deref().unwrap_or_default()
                )
                .as_bytes(),
            );
            json!({
                "ruleId": finding.id,
                "ruleIndex": index.get(finding.id.as_str()).copied().unwrap_or_default(),
                "level": level(finding.severity),
                "message": {"text": message(finding, &evaluation.image)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": evaluation.image},
                        "region": {"startLine": 1}
                    }
                }],
                "partialFingerprints": {"ecrShipFinding/v1": fingerprint},
                "properties": {"severity": finding.severity.name()}
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "ecr-ship",
                    "fullName": format!("Amazon ECR image scan ({} scanning), reported by ecr-ship", evaluation.scanning),
                    "version": tool_version,
                    "rules": rules_json
                }
            },
            "results": results,
            "properties": {"image": evaluation.image, "scanning": evaluation.scanning}
        }]
    })
}

fn rule(finding: &Finding) -> Value {
    let short = match &finding.package {
        Some(package) => format!("{} in {package}", finding.id),
        None => finding.id.clone(),
    };
    let full = finding.description.clone().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| short.clone());
    let mut help = format!("{full}\n\nSeverity (Amazon ECR): {}", finding.severity);
    if let Some(fixed) = &finding.fixed_in {
        help.push_str(&format!("\nFixed in: {fixed}"));
    }
    if let Some(uri) = &finding.uri {
        help.push_str(&format!("\nMore: {uri}"));
    }
    let mut rule = json!({
        "id": finding.id,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help},
        "defaultConfiguration": {"level": level(finding.severity)},
        "properties": {
            "security-severity": security_severity(finding.severity),
            "tags": ["security", "vulnerability", "container"]
        }
    });
    if let Some(uri) = &finding.uri {
        rule["helpUri"] = json!(uri);
    }
    rule
}

fn message(finding: &Finding, image: &str) -> String {
    let mut text = format!("{} ({})", finding.id, finding.severity);
    if let Some(package) = &finding.package {
        text.push_str(&format!(" in {package}"));
        if let Some(version) = &finding.version {
            text.push_str(&format!(" {version}"));
        }
    }
    match &finding.fixed_in {
        Some(fixed) => text.push_str(&format!("; fixed in {fixed}")),
        None => text.push_str("; no fixed version reported"),
    }
    text.push_str(&format!(", in image {image}"));
    text
}

#[cfg(test)]
mod tests {
    use super::super::tests::finding;
    use super::super::{Ignore, IgnoreList};
    use super::*;

    #[test]
    fn one_rule_per_id_results_with_levels_and_the_image_as_location() {
        let mut second = finding("CVE-1", Severity::Critical);
        second.package = Some("libssl".into());
        let findings = vec![
            finding("CVE-1", Severity::High),
            second,
            finding("CVE-2", Severity::Medium),
            finding("CVE-3", Severity::Low),
            finding("CVE-4", Severity::Critical),
        ];
        let ignores = IgnoreList::at(&[Ignore { id: "CVE-4".into(), expires: None, reason: None }], chrono::Utc::now());
        let image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app@sha256:ab".to_string();
        let evaluation = Evaluation::new(image.clone(), "basic", findings, &ignores, None);
        let log = sarif(&evaluation, "1.2.3");
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["$schema"], SCHEMA_URI);
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "ecr-ship");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["CVE-1", "CVE-2", "CVE-3"], "one rule per id, the ignored one left out");
        assert_eq!(rules[0]["properties"]["security-severity"], "9.5", "the rule takes its highest severity");
        assert_eq!(rules[0]["helpUri"], "https://nvd.nist.gov/vuln/detail/CVE-1");
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 4);
        for result in results {
            let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
            assert_eq!(rule["id"], result["ruleId"]);
            assert_eq!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], image.as_str());
            assert_eq!(result["locations"][0]["physicalLocation"]["region"]["startLine"], 1);
        }
        let levels: Vec<&str> = results.iter().map(|r| r["level"].as_str().unwrap()).collect();
        assert_eq!(levels, ["error", "error", "warning", "note"]);
        assert!(results[0]["message"]["text"].as_str().unwrap().contains("fixed in 3.0.2"));
        assert_ne!(results[0]["partialFingerprints"], results[1]["partialFingerprints"], "two packages, two alerts");
    }

    #[test]
    fn levels_and_security_severities_follow_ecr() {
        for (severity, level_name, score) in [
            (Severity::Critical, "error", "9.5"),
            (Severity::High, "error", "8.0"),
            (Severity::Medium, "warning", "5.5"),
            (Severity::Low, "note", "2.0"),
            (Severity::Informational, "note", "0.0"),
            (Severity::Undefined, "note", "0.0"),
        ] {
            assert_eq!((level(severity), security_severity(severity)), (level_name, score), "{severity}");
        }
    }
}
