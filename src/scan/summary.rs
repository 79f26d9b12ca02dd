//! The gate's Markdown for the GitHub job summary: a severity table, the verdict, and the top findings (id linked
//! to its advisory, package, version, fixed-in version), then the ignored ones with their reasons.

use super::{Evaluation, Finding, Severity};

/// How many findings the summary lists (the SARIF file and `--json` have all of them).
pub const TOP_FINDINGS: usize = 10;

/// The Markdown section for `$GITHUB_STEP_SUMMARY`.
pub fn markdown(evaluation: &Evaluation) -> String {
    let counts = evaluation.counts();
    let mut text = format!(
        "### ecr-ship: vulnerability scan\n\n`{}` ({} scanning)\n\n| Severity | Findings |\n| --- | ---: |\n",
        cell(&evaluation.image),
        evaluation.scanning
    );
    for severity in Severity::ALL {
        text.push_str(&format!("| {severity} | {} |\n", counts[&severity]));
    }
    text.push_str(&format!("| ignored | {} |\n\n", evaluation.ignored.len()));
    match evaluation.threshold {
        Some(threshold) if evaluation.failed() => text.push_str(&format!(
            "**Gate failed:** {} finding(s) at or above {threshold}.\n\n",
            evaluation.failing().len()
        )),
        Some(threshold) => text.push_str(&format!("**Gate passed:** no finding at or above {threshold}.\n\n")),
        None => {}
    }
    if !evaluation.findings.is_empty() {
        let shown = evaluation.findings.len().min(TOP_FINDINGS);
        text.push_str(&format!(
            "Top findings ({shown} of {}):\n\n| Severity | ID | Package | Version | Fixed in |\n| --- | --- | --- | --- | --- |\n",
            evaluation.findings.len()
        ));
        for finding in evaluation.findings.iter().take(TOP_FINDINGS) {
            text.push_str(&row(finding));
        }
        text.push('\n');
    }
    if !evaluation.ignored.is_empty() {
        text.push_str("Ignored:\n\n| ID | Severity | Until | Reason |\n| --- | --- | --- | --- |\n");
        for (finding, ignore) in &evaluation.ignored {
            text.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                link(finding),
                finding.severity,
                ignore.expires.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                cell(ignore.reason.as_deref().unwrap_or("--scan-ignore"))
            ));
        }
        text.push('\n');
    }
    text
}

fn row(finding: &Finding) -> String {
    let or_dash = |value: &Option<String>| value.as_deref().map(cell).unwrap_or_else(|| "-".into());
    format!(
        "| {} | {} | {} | {} | {} |\n",
        finding.severity,
        link(finding),
        or_dash(&finding.package),
        or_dash(&finding.version),
        or_dash(&finding.fixed_in)
    )
}

/// The id, linked to its advisory when the link is an http(s) URL.
fn link(finding: &Finding) -> String {
    match &finding.uri {
        Some(uri) if (uri.starts_with("https://") || uri.starts_with("http://")) && !uri.contains([')', ' ']) => {
            format!("[{}]({uri})", cell(&finding.id))
        }
        _ => cell(&finding.id),
    }
}

/// A value inside a table cell: pipes escaped, line breaks and backticks made harmless.
fn cell(value: &str) -> String {
    value.replace('|', "\\|").replace(['\n', '\r'], " ").replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::super::tests::finding;
    use super::super::{Ignore, IgnoreList};
    use super::*;

    #[test]
    fn the_table_counts_every_severity_and_lists_the_top_findings() {
        let mut odd = finding("CVE-9", Severity::Low);
        odd.package = Some("a|b".into());
        odd.fixed_in = None;
        odd.uri = Some("javascript:alert(1)".into());
        let findings = vec![finding("CVE-1", Severity::Critical), odd, finding("CVE-2", Severity::Medium)];
        let ignore = Ignore {
            id: "CVE-2".into(),
            expires: chrono::NaiveDate::from_ymd_opt(2999, 1, 1),
            reason: Some("not reachable".into()),
        };
        let ignores = IgnoreList::at(&[ignore], chrono::Utc::now());
        let evaluation =
            Evaluation::new("reg/team/app@sha256:ab".into(), "enhanced", findings, &ignores, Some(Severity::High));
        let text = markdown(&evaluation);
        for line in [
            "| Severity | Findings |",
            "| CRITICAL | 1 |",
            "| HIGH | 0 |",
            "| MEDIUM | 0 |",
            "| LOW | 1 |",
            "| INFORMATIONAL | 0 |",
            "| UNDEFINED | 0 |",
            "| ignored | 1 |",
            "**Gate failed:** 1 finding(s) at or above HIGH.",
            "| CRITICAL | [CVE-1](https://nvd.nist.gov/vuln/detail/CVE-1) | openssl | 3.0.1 | 3.0.2 |",
            "| LOW | CVE-9 | a\\|b | 3.0.1 | - |",
            "| [CVE-2](https://nvd.nist.gov/vuln/detail/CVE-2) | MEDIUM | 2999-01-01 | not reachable |",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        let passed = Evaluation::new(
            "i".into(),
            "basic",
            vec![finding("CVE-3", Severity::Low)],
            &IgnoreList::default(),
            Some(Severity::High),
        );
        assert!(markdown(&passed).contains("**Gate passed:** no finding at or above HIGH."));
        let many: Vec<Finding> = (0..15).map(|n| finding(&format!("CVE-{n:02}"), Severity::High)).collect();
        let long = Evaluation::new("i".into(), "basic", many, &IgnoreList::default(), None);
        let text = markdown(&long);
        assert!(text.contains("Top findings (10 of 15):"), "{text}");
        assert_eq!(text.lines().filter(|l| l.starts_with("| HIGH | [CVE-")).count(), TOP_FINDINGS);
    }
}
