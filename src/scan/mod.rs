//! The vulnerability gate, purely: severities and the threshold, the ignore list with its expiry dates, the counts,
//! and the verdict; `sarif.rs` renders SARIF 2.1.0 and `summary.rs` the job summary and the count outputs.
//!
//! Everything here is a function of the findings ECR reported (basic or enhanced scanning, already read into
//! [`Finding`]s by `aws`), the ignore list and an instant. A finding at or above the threshold that no ignore
//! covers fails the gate; `UNDEFINED` (basic scanning's "no severity", enhanced scanning's `UNTRIAGED`) has no rank
//! and never does, but it is counted and shown. An ignore from the config file carries an expiry date and a reason;
//! past its date it stops applying, with a warning naming it.

pub mod sarif;
pub mod summary;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use crate::bail_input;

/// A finding's severity as ECR names it. The order is the rank: `Undefined` sorts first and has no rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Undefined,
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, highest first, as tables list them.
    pub const ALL: [Severity; 6] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
        Severity::Undefined,
    ];

    /// The name ECR and the outputs use.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Undefined => "UNDEFINED",
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// A severity from a server: basic scanning's names, enhanced scanning's (`UNTRIAGED` is undefined); anything
    /// else is undefined rather than an error, since a new name must not break the gate.
    pub fn from_ecr(name: &str) -> Severity {
        match name.trim().to_ascii_uppercase().as_str() {
            "INFORMATIONAL" => Severity::Informational,
            "LOW" => Severity::Low,
            "MEDIUM" => Severity::Medium,
            "HIGH" => Severity::High,
            "CRITICAL" => Severity::Critical,
            _ => Severity::Undefined,
        }
    }

    /// A `--scan-fail-on` threshold (any case): one of the five ranked severities.
    pub fn parse_threshold(value: &str) -> anyhow::Result<Severity> {
        match Severity::from_ecr(value) {
            Severity::Undefined => bail_input!(
                "invalid --scan-fail-on '{value}': use INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL (a finding at or \
                 above it fails the gate)"
            ),
            severity => Ok(severity),
        }
    }

    /// True when a finding of this severity fails a gate at `threshold` (never for `Undefined`).
    pub fn reaches(self, threshold: Severity) -> bool {
        self != Severity::Undefined && self >= threshold
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One finding of an image scan, whichever kind of scanning reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The vulnerability id, such as `CVE-2024-1234` (basic: `name`; enhanced: `vulnerabilityId`, else the title).
    pub id: String,
    pub severity: Severity,
    pub package: Option<String>,
    pub version: Option<String>,
    /// The version that fixes it (enhanced scanning only).
    pub fixed_in: Option<String>,
    /// Where to read about it.
    pub uri: Option<String>,
    pub description: Option<String>,
    /// A CVSS base score, when the scan gives one.
    pub score: Option<f64>,
}

/// An entry of the ignore list: from `--scan-ignore ID` (no expiry, no reason needed) or from the config file's
/// `scan: ignore:` (both an expiry date and a reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    pub id: String,
    /// The last day the entry applies (UTC); it stops applying the day after.
    pub expires: Option<NaiveDate>,
    pub reason: Option<String>,
}

impl Ignore {
    /// An entry of `--scan-ignore`; `origin` names the flag or its variable.
    pub fn from_flag(id: &str, origin: &str) -> anyhow::Result<Ignore> {
        Ok(Ignore { id: checked_id(id.trim(), origin)?, expires: None, reason: None })
    }

    /// An entry of the config file's `scan: ignore:` list, checked: an id, an expiry date YYYY-MM-DD and a reason.
    pub fn from_config(id: &str, expires: Option<&str>, reason: Option<&str>) -> anyhow::Result<Ignore> {
        let id = checked_id(id.trim(), "scan: ignore:")?;
        let Some(expires) = expires.map(str::trim) else {
            bail_input!(
                "the ignore of {id} in the config file has no expires: date; give the last day it applies as \
                 YYYY-MM-DD, so that it is looked at again"
            );
        };
        let Ok(date) = NaiveDate::parse_from_str(expires, "%Y-%m-%d") else {
            bail_input!(
                "the ignore of {id} in the config file has the invalid expires: date '{expires}': use YYYY-MM-DD"
            );
        };
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        let Some(reason) = reason else {
            bail_input!("the ignore of {id} in the config file has no reason: say why the finding is accepted");
        };
        Ok(Ignore { id, expires: Some(date), reason: Some(reason.to_string()) })
    }

    /// True once the entry's expiry date has passed at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|last_day| now.date_naive() > last_day)
    }
}

/// Vulnerability ids are short words of letters, digits and `-_.:/`, as the ids of ECR's findings are: the ids an
/// ignore is matched against (without regard to case). A `CVE-` or `GHSA-` id must have its form, and any other id
/// (a vendor's advisory: ALAS2-2024-1234, RHSA-2024:1234, DSA-5000-1, GO-2024-1234, SNYK-JS-X-123) starts with a
/// letter and has a number; an id that no finding can have is refused, as it could never match.
fn checked_id(id: &str, origin: &str) -> anyhow::Result<String> {
    let words = (1..=128).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'));
    if !words {
        bail_input!(
            "invalid {origin} id '{id}': expected a vulnerability id such as CVE-2024-1234 or GHSA-xxxx-xxxx-xxxx"
        );
    }
    let upper = id.to_ascii_uppercase();
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if upper.starts_with("CVE") {
        let fits = match upper.strip_prefix("CVE-").and_then(|rest| rest.split_once('-')) {
            Some((year, number)) => {
                year.len() == 4 && digits(year) && year >= "1999" && number.len() >= 4 && digits(number)
            }
            None => false,
        };
        if !fits {
            bail_input!(
                "invalid {origin} id '{id}': a CVE id is CVE-YYYY-NNNN (the year, then four or more digits), such as \
                 CVE-2024-1234; as written it can never match a finding"
            );
        }
    } else if upper.starts_with("GHSA") {
        let groups: Vec<&str> = upper.split('-').collect();
        let fits = groups.len() == 4
            && groups[0] == "GHSA"
            && groups[1..].iter().all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !fits {
            bail_input!(
                "invalid {origin} id '{id}': a GitHub advisory id is GHSA-xxxx-xxxx-xxxx (three groups of four \
                 letters or digits); as written it can never match a finding"
            );
        }
    } else if !id.starts_with(|c: char| c.is_ascii_alphabetic()) || !id.contains(|c: char| c.is_ascii_digit()) {
        bail_input!(
            "invalid {origin} id '{id}': expected a vulnerability id such as CVE-2024-1234, GHSA-xxxx-xxxx-xxxx or \
             a vendor's advisory (ALAS2-2024-1234, RHSA-2024:1234), which starts with a letter and has a number"
        );
    }
    Ok(id.to_string())
}

/// The ignore list split at an instant: the entries that apply, and the expired ones (to warn about).
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    pub active: Vec<Ignore>,
    pub expired: Vec<Ignore>,
}

impl IgnoreList {
    /// Splits `entries` at `now`; an id given twice keeps its first active entry.
    pub fn at(entries: &[Ignore], now: DateTime<Utc>) -> IgnoreList {
        let (expired, active): (Vec<Ignore>, Vec<Ignore>) = entries.iter().cloned().partition(|i| i.expired(now));
        IgnoreList { active, expired }
    }

    /// The active entry covering `id` (ids compare without regard to case).
    pub fn covering(&self, id: &str) -> Option<&Ignore> {
        self.active.iter().find(|ignore| ignore.id.eq_ignore_ascii_case(id))
    }

    /// The warnings for the expired entries, one each, naming it.
    pub fn expiry_warnings(&self) -> Vec<String> {
        self.expired
            .iter()
            .map(|ignore| {
                format!(
                    "the scan ignore of {} expired on {} and no longer applies{}: renew its expires: date or fix the \
                     finding",
                    ignore.id,
                    ignore.expires.map(|d| d.to_string()).unwrap_or_default(),
                    ignore.reason.as_deref().map(|r| format!(" (reason: {r})")).unwrap_or_default()
                )
            })
            .collect()
    }
}

/// The gate's outcome for one image.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The image as a reference, `registry/repository@sha256:…`.
    pub image: String,
    /// `basic` or `enhanced`.
    pub scanning: &'static str,
    /// Findings no ignore covers, highest severity first.
    pub findings: Vec<Finding>,
    /// Findings an active ignore covers, with the entry.
    pub ignored: Vec<(Finding, Ignore)>,
    pub threshold: Option<Severity>,
}

impl Evaluation {
    /// Applies the ignore list to the findings; findings are ordered by severity (highest first), then id.
    pub fn new(
        image: String,
        scanning: &'static str,
        mut all: Vec<Finding>,
        ignores: &IgnoreList,
        threshold: Option<Severity>,
    ) -> Evaluation {
        all.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
        let mut findings = Vec::new();
        let mut ignored = Vec::new();
        for finding in all {
            match ignores.covering(&finding.id) {
                Some(ignore) => ignored.push((finding, ignore.clone())),
                None => findings.push(finding),
            }
        }
        Evaluation { image, scanning, findings, ignored, threshold }
    }

    /// Counts of the findings no ignore covers, for every severity (zeros included).
    pub fn counts(&self) -> BTreeMap<Severity, usize> {
        let mut counts: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
        for finding in &self.findings {
            *counts.entry(finding.severity).or_default() += 1;
        }
        counts
    }

    /// The findings that fail the gate (none without a threshold).
    pub fn failing(&self) -> Vec<&Finding> {
        match self.threshold {
            Some(threshold) => self.findings.iter().filter(|f| f.severity.reaches(threshold)).collect(),
            None => Vec::new(),
        }
    }

    /// True when a threshold is set and a finding reaches it.
    pub fn failed(&self) -> bool {
        !self.failing().is_empty()
    }

    /// `passed`, `failed`, or `none` without a threshold.
    pub fn verdict(&self) -> &'static str {
        match self.threshold {
            None => "none",
            Some(_) if self.failed() => "failed",
            Some(_) => "passed",
        }
    }

    /// The counts in one line: `CRITICAL 1, HIGH 0, …, UNDEFINED 0 (2 ignored)`.
    pub fn counts_line(&self) -> String {
        let counts = self.counts();
        let line: Vec<String> = Severity::ALL.iter().map(|s| format!("{s} {}", counts[s])).collect();
        format!("{} ({} ignored)", line.join(", "), self.ignored.len())
    }

    /// The gate's failure in one sentence (`None` when it passed).
    pub fn failure_message(&self) -> Option<String> {
        let threshold = self.threshold?;
        let failing = self.failing();
        if failing.is_empty() {
            return None;
        }
        let ids: Vec<&str> = failing.iter().take(5).map(|f| f.id.as_str()).collect();
        let more =
            if failing.len() > ids.len() { format!(" and {} more", failing.len() - ids.len()) } else { String::new() };
        Some(format!(
            "the vulnerability gate failed for {}: {} finding{} at or above {threshold} ({}{more}); fix them, or \
             accept one with --scan-ignore ID or an ignore entry with expires: and reason: in the config file",
            self.image,
            failing.len(),
            if failing.len() == 1 { "" } else { "s" },
            ids.join(", ")
        ))
    }

    /// The count outputs as (GitHub output name, variable name, value): `scan-critical`/`SCAN_CRITICAL`, …, the
    /// ignored count, the threshold and the verdict.
    pub fn fields(&self) -> Vec<(&'static str, &'static str, String)> {
        let counts = self.counts();
        let mut fields: Vec<(&'static str, &'static str, String)> = Severity::ALL
            .iter()
            .map(|severity| {
                let (output, variable) = match severity {
                    Severity::Critical => ("scan-critical", "SCAN_CRITICAL"),
                    Severity::High => ("scan-high", "SCAN_HIGH"),
                    Severity::Medium => ("scan-medium", "SCAN_MEDIUM"),
                    Severity::Low => ("scan-low", "SCAN_LOW"),
                    Severity::Informational => ("scan-informational", "SCAN_INFORMATIONAL"),
                    Severity::Undefined => ("scan-undefined", "SCAN_UNDEFINED"),
                };
                (output, variable, counts[severity].to_string())
            })
            .collect();
        fields.push(("scan-ignored", "SCAN_IGNORED", self.ignored.len().to_string()));
        if let Some(threshold) = self.threshold {
            fields.push(("scan-fail-on", "SCAN_FAIL_ON", threshold.name().to_string()));
        }
        fields.push(("scan-result", "SCAN_RESULT", self.verdict().to_string()));
        fields
    }

    /// The JSON form of `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        let counts: serde_json::Map<String, serde_json::Value> =
            self.counts().iter().map(|(s, n)| (s.name().to_string(), serde_json::json!(n))).collect();
        let finding = |f: &Finding| {
            serde_json::json!({
                "id": f.id, "severity": f.severity.name(), "package": f.package, "version": f.version,
                "fixed_in": f.fixed_in, "uri": f.uri,
            })
        };
        serde_json::json!({
            "image": self.image,
            "scanning": self.scanning,
            "counts": counts,
            "threshold": self.threshold.map(Severity::name),
            "result": self.verdict(),
            "findings": self.findings.iter().map(finding).collect::<Vec<_>>(),
            "ignored": self.ignored.iter().map(|(f, i)| {
                let mut value = finding(f);
                value["reason"] = serde_json::json!(i.reason);
                value["expires"] = serde_json::json!(i.expires.map(|d| d.to_string()));
                value
            }).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn finding(id: &str, severity: Severity) -> Finding {
        Finding {
            id: id.into(),
            severity,
            package: Some("openssl".into()),
            version: Some("3.0.1".into()),
            fixed_in: Some("3.0.2".into()),
            uri: Some(format!("https://nvd.nist.gov/vuln/detail/{id}")),
            description: Some("a flaw".into()),
            score: None,
        }
    }

    fn day(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn thresholds_compare_by_rank_and_undefined_never_fails() {
        use Severity::*;
        for (severity, threshold, fails) in [
            (Critical, High, true),
            (High, High, true),
            (Medium, High, false),
            (Low, Low, true),
            (Informational, Low, false),
            (Informational, Informational, true),
            (Undefined, Informational, false),
            (Critical, Critical, true),
        ] {
            assert_eq!(severity.reaches(threshold), fails, "{severity} vs {threshold}");
        }
        assert_eq!(Severity::parse_threshold("high").unwrap(), High);
        assert_eq!(Severity::from_ecr("UNTRIAGED"), Undefined);
        assert_eq!(Severity::from_ecr("critical"), Critical);
        for bad in ["UNDEFINED", "severe", ""] {
            let error = Severity::parse_threshold(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2);
            assert!(error.to_string().contains(&format!("'{bad}'")), "{error}");
        }
    }

    #[test]
    fn config_ignores_need_a_date_and_a_reason() {
        let ok = Ignore::from_config("CVE-2024-1234", Some("2027-01-31"), Some("no fix upstream")).unwrap();
        assert_eq!(ok.expires, NaiveDate::from_ymd_opt(2027, 1, 31));
        for (id, expires, reason, needle) in [
            ("CVE-2024-1234", Some("2027-01-31"), None, "has no reason"),
            ("CVE-2024-1234", Some("2027-01-31"), Some("  "), "has no reason"),
            ("CVE-2024-1234", Some("31/01/2027"), Some("r"), "invalid expires: date '31/01/2027'"),
            ("CVE-2024-1234", Some("2027-02-30"), Some("r"), "invalid expires: date '2027-02-30'"),
            ("CVE-2024-1234", None, Some("r"), "has no expires: date"),
            ("CVE 2024", Some("2027-01-31"), Some("r"), "invalid scan: ignore: id 'CVE 2024'"),
            ("", Some("2027-01-31"), Some("r"), "invalid scan: ignore: id ''"),
        ] {
            let error = Ignore::from_config(id, expires, reason).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2, "{error}");
            assert!(error.to_string().contains(needle), "{error}");
        }
    }

    #[test]
    fn an_ignore_id_must_be_one_a_finding_can_have() {
        for id in [
            "CVE-2024-1234",
            "cve-2021-44228",
            "CVE-1999-0001",
            "CVE-2024-1234567",
            "GHSA-abcd-efgh-ijkl",
            "ghsa-2345-6789-cfgh",
            "RHSA-2024:1234",
            "ALAS2-2024-2500",
            "ALASKERNEL-5.10-2024-045",
            "DSA-5000-1",
            "GO-2024-2687",
            "PYSEC-2021-123",
            "SNYK-JS-LODASH-567746",
        ] {
            assert_eq!(Ignore::from_flag(id, "--scan-ignore").unwrap().id, id);
        }
        for (id, needle) in [
            ("CVE-24-1", "CVE-YYYY-NNNN"),
            ("CVE-2024-123", "CVE-YYYY-NNNN"),
            ("CVE-0999-1234", "CVE-YYYY-NNNN"),
            ("CVE2024-1234", "CVE-YYYY-NNNN"),
            ("CVE-2024", "CVE-YYYY-NNNN"),
            ("CVE-2024-12a4", "CVE-YYYY-NNNN"),
            ("GHSA-1234", "GHSA-xxxx-xxxx-xxxx"),
            ("GHSA-abcd-efgh-ijk", "GHSA-xxxx-xxxx-xxxx"),
            ("GHSA-abcd-efgh-ijkl-mnop", "GHSA-xxxx-xxxx-xxxx"),
            ("ALAS", "has a number"),
            ("2024-1234", "starts with a letter"),
            ("CVE;rm", "such as CVE-2024-1234"),
        ] {
            let error = Ignore::from_flag(id, "ECR_SHIP_SCAN_IGNORE").unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2, "{error}");
            let text = error.to_string();
            assert!(text.contains(&format!("ECR_SHIP_SCAN_IGNORE id '{id}'")) && text.contains(needle), "{text}");
        }
    }

    #[test]
    fn an_ignore_applies_through_its_last_day_and_then_expires_with_a_warning() {
        let entry =
            Ignore::from_config("CVE-2024-0001", Some("2027-01-31"), Some("waiting for the base image")).unwrap();
        for (now, expired) in [
            ("2027-01-30T12:00:00Z", false),
            ("2027-01-31T23:59:59Z", false),
            ("2027-02-01T00:00:00Z", true),
            ("2030-01-01T00:00:00Z", true),
        ] {
            assert_eq!(entry.expired(day(now)), expired, "{now}");
        }
        let flag = Ignore::from_flag("CVE-2024-0002", "--scan-ignore").unwrap();
        let list = IgnoreList::at(&[entry, flag], day("2027-03-01T00:00:00Z"));
        assert_eq!(list.active.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["CVE-2024-0002"]);
        let warnings = list.expiry_warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("CVE-2024-0001 expired on 2027-01-31"), "{}", warnings[0]);
        assert!(warnings[0].contains("waiting for the base image"), "{}", warnings[0]);
    }

    #[test]
    fn counting_and_the_verdict() {
        use Severity::*;
        let all = vec![
            finding("CVE-3", Low),
            finding("CVE-1", Critical),
            finding("CVE-2", High),
            finding("CVE-4", Undefined),
            finding("CVE-5", Critical),
        ];
        // Findings here are named briefly; an ignore matches one without regard to case.
        let ignores = IgnoreList::at(&[Ignore { id: "cve-5".into(), expires: None, reason: None }], Utc::now());
        for (threshold, verdict, failing) in [
            (None, "none", 0),
            (Some(Critical), "failed", 1),
            (Some(High), "failed", 2),
            (Some(Low), "failed", 3),
            (Some(Informational), "failed", 3),
        ] {
            let evaluation = Evaluation::new("img@sha256:x".into(), "basic", all.clone(), &ignores, threshold);
            assert_eq!(evaluation.verdict(), verdict, "{threshold:?}");
            assert_eq!(evaluation.failing().len(), failing, "{threshold:?}");
        }
        let evaluation = Evaluation::new("img@sha256:x".into(), "basic", all, &ignores, Some(High));
        let ids: Vec<&str> = evaluation.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["CVE-1", "CVE-2", "CVE-3", "CVE-4"], "highest first; the ignored one apart");
        let counts = evaluation.counts();
        assert_eq!((counts[&Critical], counts[&High], counts[&Medium], counts[&Undefined]), (1, 1, 0, 1));
        assert_eq!(
            evaluation.counts_line(),
            "CRITICAL 1, HIGH 1, MEDIUM 0, LOW 1, INFORMATIONAL 0, UNDEFINED 1 (1 ignored)"
        );
        let message = evaluation.failure_message().unwrap();
        assert!(message.contains("2 findings at or above HIGH (CVE-1, CVE-2)"), "{message}");
        let fields = evaluation.fields();
        assert!(fields.contains(&("scan-critical", "SCAN_CRITICAL", "1".into())));
        assert!(fields.contains(&("scan-ignored", "SCAN_IGNORED", "1".into())));
        assert!(fields.contains(&("scan-result", "SCAN_RESULT", "failed".into())));
        let low_only =
            Evaluation::new("i".into(), "basic", vec![finding("CVE-9", Low)], &IgnoreList::default(), Some(High));
        assert!(!low_only.failed() && low_only.failure_message().is_none());
        assert_eq!(low_only.to_json()["counts"]["LOW"], 1);
    }
}
