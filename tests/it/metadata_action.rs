//! docker/metadata-action's own test suite, ported (tests/fixtures/metadata-action: its meta, tag and flavor cases
//! and its event fixtures): every case's `tags:` and `flavor:` lines go verbatim through `ecr-ship tags --json`
//! under the case's GitHub environment, and must give metadata-action's tags in its order.
//!
//! The only translations are ecr-ship's documented rules: a pull request's commit is its head, not GitHub's merge
//! commit (the `pr` cases' merge-commit ids are swapped for the head's), ecr-ship's own default tags apply when no
//! line is given (so a case without `tags:` passes metadata-action's defaults explicitly), the default branch comes
//! from the payload (metadata-action asks GitHub's API; repo.json's `master` is passed as --default-branch), and a
//! build with no tag at all is an error rather than an empty list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::Ship;

/// 2020-01-10T00:30:00Z, the instant metadata-action's tests freeze `Date` and moment at.
const FROZEN_NOW: &str = "1578616200";
const METADATA_DEFAULT_TAGS: [&str; 4] =
    ["type=schedule", "type=ref,event=branch", "type=ref,event=tag", "type=ref,event=pr"];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/metadata-action")
}

fn load(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join(name)).expect("read cases");
    serde_json::from_str(&text).expect("cases are JSON")
}

/// A dotenv fixture, with the event path pointing into our copy of the fixtures.
fn environment(env_file: &str) -> BTreeMap<String, String> {
    environment_in(env_file, None)
}

/// The same, with the payload's commit timestamps frozen at [`FROZEN_NOW`] in a copy under `dir`: metadata-action's
/// tests mock moment so that `{{commit_date}}` renders the frozen instant too.
fn environment_in(env_file: &str, dir: Option<&Path>) -> BTreeMap<String, String> {
    let mut env = raw_environment(env_file);
    let Some(dir) = dir else { return env };
    let path = env.get("GITHUB_EVENT_PATH").cloned();
    let mut payload: Value = path
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .map(|text| serde_json::from_str(&text).expect("payload JSON"))
        .unwrap_or_else(|| serde_json::json!({}));
    freeze_timestamps(&mut payload);
    with_repository_facts(&mut payload);
    let name = path.as_deref().and_then(|p| Path::new(p).file_name()).map(|n| n.to_owned());
    let copy = dir.join(name.unwrap_or_else(|| "event.json".into()));
    std::fs::write(&copy, payload.to_string()).expect("write payload copy");
    env.insert("GITHUB_EVENT_PATH".into(), copy.display().to_string());
    env
}

/// metadata-action's tests answer its GitHub API call with repo.json; ecr-ship reads the same facts from the
/// payload's `repository` object, so the copy carries repo.json's name, description, page and licence.
fn with_repository_facts(payload: &mut Value) {
    let repo: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("fixtures/repo.json")).expect("repo.json"))
            .unwrap();
    let Some(object) = payload.as_object_mut() else { return };
    let repository = object.entry("repository").or_insert_with(|| serde_json::json!({}));
    for key in ["name", "description", "html_url", "license"] {
        repository[key] = repo[key].clone();
    }
}

fn freeze_timestamps(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key == "timestamp" && item.is_string() {
                    *item = Value::String("2020-01-10T00:30:00Z".into());
                } else {
                    freeze_timestamps(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(freeze_timestamps),
        _ => {}
    }
}

fn raw_environment(env_file: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(fixtures().join("fixtures").join(env_file)).expect("read env fixture");
    let mut env = BTreeMap::new();
    for line in text.lines().filter(|line| !line.trim().is_empty() && !line.starts_with('#')) {
        let (key, value) = line.split_once('=').expect("KEY=VALUE");
        let value = match value.strip_prefix("./__tests__/fixtures/") {
            Some(file) => fixtures().join("fixtures").join(file).display().to_string(),
            None => value.to_string(),
        };
        env.insert(key.to_string(), value);
    }
    env
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Where a case keeps its expected image references: the tags list, the JSON output, or a bake file's target.
fn expected_references(case: &Value) -> Option<Vec<String>> {
    if let Some(tags) = case.get("tags") {
        return Some(strings(tags));
    }
    if let Some(tags) = case.pointer("/json/tags") {
        return Some(strings(tags));
    }
    let bake = case.get("bake_tags").or_else(|| case.get("bake_definition"))?;
    let target = bake.get("target")?.as_object()?.values().next()?;
    Some(strings(&target["tags"]))
}

/// The tags of the first image, without `image:`, as metadata-action lists them.
fn expected_tags(case: &Value) -> Vec<String> {
    let images = strings(&case["inputs"]["images"]);
    let tags = expected_references(case).unwrap_or_default();
    match images.first() {
        Some(image) => {
            let prefix = format!("{}:", image.to_lowercase());
            tags.iter().filter_map(|tag| tag.strip_prefix(&prefix).map(str::to_string)).collect()
        }
        None => tags,
    }
}

/// What ecr-ship planned for one case.
struct Answer {
    tags: Vec<String>,
    labels: Vec<String>,
    annotations: Vec<String>,
}

/// ecr-ship's answer for one case, or `None` when it found no tag to make (exit 2).
fn ecr_ship_tags(case: &Value, dir: &Path) -> Result<Option<Answer>, String> {
    let env = environment_in(case["env_file"].as_str().expect("env_file"), Some(dir));
    let mut lines = strings(&case["inputs"]["tags"]);
    let flavor = strings(&case["inputs"]["flavor"]);
    if lines.is_empty() && flavor.is_empty() {
        lines = METADATA_DEFAULT_TAGS.map(str::to_string).to_vec();
    }
    let mut args = vec!["tags".to_string(), "--json".to_string(), "--default-branch".to_string(), "master".to_string()];
    for line in &lines {
        args.extend(["--tag".to_string(), line.clone()]);
    }
    for line in &flavor {
        args.extend(["--flavor".to_string(), line.clone()]);
    }
    for (flag, key) in [("--label", "labels"), ("--annotation", "annotations")] {
        for line in strings(&case["inputs"][key]) {
            args.extend([flag.to_string(), line]);
        }
    }
    let run = Ship::new(&[]).args_from(&args).envs(&env).env("SOURCE_DATE_EPOCH", FROZEN_NOW).cwd(dir).run();
    match run.code {
        0 => {
            let json: Value = serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {}", run.stdout))?;
            let labels = json["labels"].as_object().map_or_else(Vec::new, |map| {
                map.iter().map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default())).collect()
            });
            let annotations =
                strings(&json["annotations"]).iter().map(|a| a.trim_start_matches("manifest:").to_string()).collect();
            Ok(Some(Answer { tags: strings(&json["tags"]), labels, annotations }))
        }
        2 if run.stderr.contains("no tag could be made") => Ok(None),
        code => Err(format!("exit {code:?}: {}", run.stderr.trim())),
    }
}

/// A case's expected labels or annotations (`key=value`, sorted), with the PR commit translated as for the tags.
fn expected_labels(case: &Value, key: &str) -> Option<Vec<String>> {
    let lines = match case.get(key)? {
        Value::Array(_) => strings(&case[key]),
        _ => return None,
    };
    let mut lines = with_head_commit(case, lines);
    lines.sort();
    Some(lines)
}

/// The pull request cases' merge-commit ids, swapped for the head commit's (ecr-ship tags the head).
fn with_head_commit(case: &Value, tags: Vec<String>) -> Vec<String> {
    let env = environment(case["env_file"].as_str().unwrap_or_default());
    let (Some(merge), Some(path)) = (env.get("GITHUB_SHA"), env.get("GITHUB_EVENT_PATH")) else { return tags };
    let payload: Value =
        std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    let Some(head) = payload.pointer("/pull_request/head/sha").and_then(Value::as_str) else { return tags };
    tags.into_iter().map(|tag| tag.replace(merge.as_str(), head).replace(&merge[..7], &head[..7])).collect()
}

#[test]
fn metadata_action_meta_cases_give_its_tags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in load("meta-cases.json") {
        if case.get("env_file").is_none() || expected_references(&case).is_none() {
            continue; // isRawStatement rows (unit-tested in src/tags/metadata/meta.rs) and the separator rows
        }
        let name = format!("{}/{}", case["group"].as_str().unwrap_or(""), case["name"].as_str().unwrap_or(""));
        let expected = with_head_commit(&case, expected_tags(&case));
        checked += 1;
        match ecr_ship_tags(&case, dir.path()) {
            Ok(Some(answer)) => {
                if answer.tags != expected {
                    failures.push(format!("{name}: expected tags {expected:?}, got {:?}", answer.tags));
                }
                if let Some(labels) = expected_labels(&case, "labels") {
                    let expected_annotations = expected_labels(&case, "annotations").unwrap_or_else(|| labels.clone());
                    for (what, want, got) in
                        [("labels", labels, answer.labels), ("annotations", expected_annotations, answer.annotations)]
                    {
                        let mut got = got;
                        got.sort();
                        if want != got {
                            failures.push(format!("{name}: expected {what} {want:?}, got {got:?}"));
                        }
                    }
                }
            }
            Ok(None) if expected.is_empty() => {}
            Ok(None) => failures.push(format!("{name}: expected {expected:?}, got no tag")),
            Err(error) => failures.push(format!("{name}: expected {expected:?}, {error}")),
        }
    }
    assert!(checked >= 129, "cases went missing: {checked}");
    assert!(failures.is_empty(), "{} of {checked} cases differ:\n{}", failures.len(), failures.join("\n"));
}

/// Runs each case's lines through `ecr-ship tags` as `flag` values; the case says whether metadata-action throws.
fn parse_cases_agree(file: &str, flag: &str, lines_of: fn(&Value) -> Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sha = "860c1904a1ce19322e91ac35af1ab07466440c37";
    let mut failures = Vec::new();
    for case in load(file) {
        let lines = lines_of(&case);
        let mut args =
            vec!["tags".to_string(), "--sha".to_string(), sha.to_string(), "--branch".to_string(), "dev".to_string()];
        for line in &lines {
            args.extend([flag.to_string(), line.clone()]);
        }
        let run = Ship::new(&[]).args_from(&args).cwd(dir.path()).run();
        let refused = run.code == 2 && !run.stderr.contains("no tag could be made");
        let should_fail = case.get("error").is_some_and(|e| !e.is_null() && e != &Value::Bool(false));
        if refused != should_fail {
            failures.push(format!(
                "{lines:?}: expected {}, got exit {:?}: {}",
                if should_fail { "refusal" } else { "acceptance" },
                run.code,
                run.stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn metadata_action_tag_lines_parse_or_fail_as_its_own() {
    parse_cases_agree("tag-cases.json", "--tag", |case| match &case["input"] {
        Value::String(line) => vec![line.clone()],
        _ => strings(&case["inputs"]),
    });
}

#[test]
fn metadata_action_flavors_parse_or_fail_as_its_own() {
    parse_cases_agree("flavor-cases.json", "--flavor", |case| strings(&case["inputs"]));
}
