//! `ecr-ship policy --from-workflow`: which OIDC subjects a GitHub Actions workflow's jobs present, read from its
//! `on:` triggers and its jobs' `environment:`, and whether its ecr-ship steps create the repository.
//!
//! The mapping follows GitHub's OIDC reference (docs/github-oidc.md): a job that names an environment presents
//! `environment:NAME` whatever the trigger; otherwise a pull request event presents `pull_request`, and every other
//! event the ref it runs on. GitHub's filter patterns are richer than IAM's StringLike (`*` and `?` only): a pattern
//! that cannot be written exactly is widened, never narrowed (a narrower policy would refuse jobs the workflow runs),
//! and each widening is a warning naming the pattern. Triggers and forms this reader does not know are refused.

use std::path::Path;

use serde_json::Value;

use crate::aws::GithubSubject;
use crate::bail_input;

/// What a workflow file asks of the trust policy and the push policy.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WorkflowTrust {
    /// The subjects its jobs present, sorted and without repeats.
    pub subjects: Vec<GithubSubject>,
    /// Where the policy admits more than the workflow runs, one sentence each.
    pub warnings: Vec<String>,
    /// A step of ecr-ship sets `create-repository: true` (or an expression, which may be true).
    pub create_repository: bool,
}

/// Events whose runs are on the default branch (GitHub's "events that trigger workflows": `GITHUB_REF` is the
/// default branch for these).
const DEFAULT_BRANCH_EVENTS: [&str; 21] = [
    "schedule",
    "workflow_run",
    "repository_dispatch",
    "issues",
    "issue_comment",
    "discussion",
    "discussion_comment",
    "label",
    "milestone",
    "watch",
    "fork",
    "check_run",
    "check_suite",
    "status",
    "branch_protection_rule",
    "page_build",
    "gollum",
    "public",
    "project",
    "project_card",
    "project_column",
];

/// Reads the workflow file at `path` (`shown` as the user named it); `default_branch` is where the default-branch
/// events run.
pub fn read(path: &Path, shown: &str, default_branch: &str) -> anyhow::Result<WorkflowTrust> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => bail_input!("--from-workflow '{shown}' cannot be read: {e}"),
    };
    from_text(&text, shown, default_branch)
}

/// The subjects and settings of a workflow given as text (`shown` names it in messages).
pub fn from_text(text: &str, shown: &str, default_branch: &str) -> anyhow::Result<WorkflowTrust> {
    let workflow: Value = match serde_saphyr::from_str(text) {
        Ok(value) => value,
        Err(e) => bail_input!("--from-workflow '{shown}' is not a valid workflow file: {e}"),
    };
    // YAML 1.1 reads a bare `on` key as the boolean true; serde-saphyr keeps it as the string, but accept both.
    let Some(on) = workflow.get("on").or_else(|| workflow.get("true")) else {
        bail_input!("--from-workflow '{shown}' has no `on:` triggers");
    };
    let mut trust = WorkflowTrust::default();
    let mut trigger_subjects = Vec::new();
    let events: Vec<(String, Value)> = match on {
        Value::String(event) => vec![(event.clone(), Value::Null)],
        Value::Array(list) => {
            let mut events = Vec::new();
            for item in list {
                match item.as_str() {
                    Some(event) => events.push((event.to_string(), Value::Null)),
                    None => bail_input!("--from-workflow '{shown}': `on:` lists {item}, expected event names"),
                }
            }
            events
        }
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        other => bail_input!("--from-workflow '{shown}': `on:` is {other}, expected an event, a list or a mapping"),
    };
    for (event, filters) in &events {
        trigger_subjects.extend(event_subjects(event, filters, shown, default_branch, &mut trust.warnings)?);
    }
    let Some(jobs) = workflow.get("jobs").and_then(Value::as_object) else {
        bail_input!("--from-workflow '{shown}' has no `jobs:` mapping");
    };
    let shipping: Vec<&String> = jobs.iter().filter(|(_, job)| ships(job)).map(|(name, _)| name).collect();
    let relevant: Vec<(&String, &Value)> =
        jobs.iter().filter(|(name, _)| shipping.is_empty() || shipping.contains(name)).collect();
    let mut without_environment = false;
    for (name, job) in relevant {
        match job_environment(name, job, shown)? {
            Some(environment) => trust.subjects.push(GithubSubject::Environment(environment)),
            None => without_environment = true,
        }
        for step in job.get("steps").and_then(Value::as_array).into_iter().flatten() {
            if !step_is_ecr_ship(step) {
                continue;
            }
            match step.get("with").and_then(|with| with.get("create-repository")) {
                Some(Value::Bool(true)) => trust.create_repository = true,
                Some(Value::String(text)) if text.trim() == "true" => trust.create_repository = true,
                Some(Value::String(text)) if text.contains("${{") => {
                    trust.create_repository = true;
                    trust.warnings.push(format!(
                        "job '{name}' sets create-repository to an expression ('{text}'); the push policy includes \
                         the create actions in case it is true"
                    ));
                }
                _ => {}
            }
        }
    }
    if without_environment {
        trust.subjects.extend(trigger_subjects);
    }
    for subject in &trust.subjects {
        subject.validate().map_err(|e| crate::error::bad_input(format!("--from-workflow '{shown}': {e}")))?;
    }
    trust.subjects.sort();
    trust.subjects.dedup();
    Ok(trust)
}

/// The subjects the jobs without an environment present for one `on:` event.
fn event_subjects(
    event: &str,
    filters: &Value,
    shown: &str,
    default_branch: &str,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Vec<GithubSubject>> {
    let any_branch_or_tag =
        || vec![GithubSubject::Ref("refs/heads/*".into()), GithubSubject::Ref("refs/tags/*".into())];
    Ok(match event {
        "push" => push_subjects(filters, shown, warnings)?,
        "pull_request" | "pull_request_target" => vec![GithubSubject::PullRequest],
        "workflow_dispatch" => {
            warnings.push(format!(
                "{shown} runs on workflow_dispatch, which anyone with write access may start on any branch or tag: \
                 the trust policy admits every branch and tag (give the job an environment to narrow it)"
            ));
            any_branch_or_tag()
        }
        "release" => vec![GithubSubject::Ref("refs/tags/*".into())],
        "merge_group" => vec![GithubSubject::Ref("refs/heads/gh-readonly-queue/*".into())],
        "workflow_call" => bail_input!(
            "--from-workflow '{shown}' is a reusable workflow (`on: workflow_call`): its jobs present the calling \
             workflow's subject; run --from-workflow on the workflow that calls it"
        ),
        event if DEFAULT_BRANCH_EVENTS.contains(&event) => {
            vec![GithubSubject::Ref(format!("refs/heads/{default_branch}"))]
        }
        other => bail_input!(
            "--from-workflow '{shown}': the trigger `{other}` is not one ecr-ship can map to OIDC subjects (known: \
             push, pull_request, pull_request_target, workflow_dispatch, release, merge_group, and the \
             default-branch events such as schedule); give --github-ref or --github-environment instead"
        ),
    })
}

/// `on: push` with its `branches`/`tags` filters (`-ignore` and `!` negations can only narrow, so they widen).
fn push_subjects(filters: &Value, shown: &str, warnings: &mut Vec<String>) -> anyhow::Result<Vec<GithubSubject>> {
    let list = |key: &str| -> anyhow::Result<Option<Vec<String>>> {
        match filters.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(one)) => Ok(Some(vec![one.clone()])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    Value::Number(number) => Ok(number.to_string()),
                    other => bail_input!("--from-workflow '{shown}': on.push.{key} holds {other}, expected patterns"),
                })
                .collect::<anyhow::Result<Vec<_>>>()
                .map(Some),
            Some(other) => bail_input!("--from-workflow '{shown}': on.push.{key} is {other}, expected a list"),
        }
    };
    if let Some(map) = filters.as_object() {
        let known = ["branches", "branches-ignore", "tags", "tags-ignore", "paths", "paths-ignore"];
        if let Some(unknown) = map.keys().find(|key| !known.contains(&key.as_str())) {
            bail_input!("--from-workflow '{shown}': on.push.{unknown} is not a push filter ecr-ship knows");
        }
    } else if !filters.is_null() {
        bail_input!("--from-workflow '{shown}': on.push is {filters}, expected a mapping of filters");
    }
    let (branches, branches_ignore) = (list("branches")?, list("branches-ignore")?);
    let (tags, tags_ignore) = (list("tags")?, list("tags-ignore")?);
    let no_ref_filter = branches.is_none() && branches_ignore.is_none() && tags.is_none() && tags_ignore.is_none();
    let mut subjects = Vec::new();
    for (kind, prefix, given, ignore) in
        [("branches", "refs/heads/", branches, branches_ignore), ("tags", "refs/tags/", tags, tags_ignore)]
    {
        if let Some(ignored) = ignore {
            warnings.push(format!(
                "on.push.{kind}-ignore {ignored:?} cannot be expressed in a trust policy: it admits every {}",
                if kind == "branches" { "branch (refs/heads/*)" } else { "tag (refs/tags/*)" }
            ));
            subjects.push(GithubSubject::Ref(format!("{prefix}*")));
            continue;
        }
        let patterns = match given {
            Some(patterns) => patterns,
            // GitHub: with only branches (or only tags) filtered, pushes of the other kind do not run the workflow.
            None if no_ref_filter => vec!["**".to_string()],
            None => continue,
        };
        for pattern in patterns {
            if let Some(negated) = pattern.strip_prefix('!') {
                warnings.push(format!(
                    "on.push.{kind} '!{negated}' excludes refs, which a trust policy cannot; those refs are admitted"
                ));
                continue;
            }
            let translated = translate_filter(&pattern)
                .map_err(|e| crate::error::bad_input(format!("--from-workflow '{shown}': on.push.{kind}: {e}")))?;
            if translated.widened {
                warnings.push(format!(
                    "on.push.{kind} '{pattern}' cannot be written exactly with IAM's wildcards (only * and ?): the \
                     trust policy admits {} instead, which is wider",
                    translated.patterns.join(", ")
                ));
            }
            subjects.extend(translated.patterns.into_iter().map(|p| GithubSubject::Ref(format!("{prefix}{p}"))));
        }
    }
    Ok(subjects)
}

/// A GitHub filter pattern written for IAM's StringLike.
#[derive(Debug, PartialEq, Eq)]
pub struct Translated {
    /// One or more StringLike patterns (GitHub's `x?` becomes two: with and without the `x`).
    pub patterns: Vec<String>,
    /// A pattern matches more than GitHub's would (a `[...]` class or a `+`).
    pub widened: bool,
}

/// Expansions of `x?` beyond this many patterns are refused, to keep the policy readable.
const MAX_EXPANSIONS: usize = 16;

/// Translates one of GitHub's branch or tag filter patterns (workflow syntax, "filter pattern cheat sheet") to
/// StringLike: `*` and `**` become `*` (IAM's `*` also crosses `/`, which admits no other pusher: a name with a `/`
/// can be pushed by whoever may push one without), `x?` becomes two patterns, `x+` becomes `x*` and a `[...]`
/// class `?` (both wider), and `\c` the literal `c`.
pub fn translate_filter(pattern: &str) -> anyhow::Result<Translated> {
    let mut alternatives = vec![String::new()];
    let mut widened = false;
    let mut chars = pattern.chars().peekable();
    let mut previous_literal = false;
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                alternatives.iter_mut().for_each(|alt| alt.push('*'));
                previous_literal = false;
            }
            '?' | '+' if !previous_literal => {
                bail_input!("the pattern '{pattern}' has a '{c}' that follows no character")
            }
            '?' => {
                let mut expanded = Vec::new();
                for alt in &alternatives {
                    let mut without = alt.clone();
                    without.pop();
                    expanded.extend([without, alt.clone()]);
                }
                if expanded.len() > MAX_EXPANSIONS {
                    bail_input!("the pattern '{pattern}' has too many '?' to write as IAM patterns");
                }
                alternatives = expanded;
                previous_literal = false;
            }
            '+' => {
                alternatives.iter_mut().for_each(|alt| alt.push('*'));
                widened = true;
                previous_literal = false;
            }
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    class.push(c);
                }
                if class.is_empty() || !closed {
                    bail_input!("the pattern '{pattern}' has an unclosed or empty '[' class");
                }
                alternatives.iter_mut().for_each(|alt| alt.push('?'));
                widened = true;
                previous_literal = false;
            }
            '\\' => {
                let Some(escaped) = chars.next() else {
                    bail_input!("the pattern '{pattern}' ends in a '\\'");
                };
                push_literal(&mut alternatives, escaped, pattern)?;
                previous_literal = true;
            }
            c => {
                push_literal(&mut alternatives, c, pattern)?;
                previous_literal = true;
            }
        }
    }
    if alternatives.iter().any(String::is_empty) {
        bail_input!("the pattern '{pattern}' can match an empty name");
    }
    alternatives.dedup();
    Ok(Translated { patterns: alternatives, widened })
}

fn push_literal(alternatives: &mut [String], c: char, pattern: &str) -> anyhow::Result<()> {
    if !(c.is_ascii_alphanumeric() || "/._-+@".contains(c)) {
        bail_input!(
            "the pattern '{pattern}' has '{c}', which ecr-ship does not put in a trust policy (letters, digits, \
             '/', '.', '_', '-', '+', '@' and the wildcards)"
        );
    }
    alternatives.iter_mut().for_each(|alt| alt.push(c));
    Ok(())
}

/// The job's deployment environment (`environment: NAME` or `environment: {name: NAME}`).
fn job_environment(job_name: &str, job: &Value, shown: &str) -> anyhow::Result<Option<String>> {
    let name = match job.get("environment") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(name)) => name.clone(),
        Some(Value::Object(map)) => match map.get("name") {
            Some(Value::String(name)) => name.clone(),
            _ => bail_input!("--from-workflow '{shown}': job '{job_name}' has an `environment:` without a name"),
        },
        Some(other) => bail_input!("--from-workflow '{shown}': job '{job_name}' has `environment: {other}`"),
    };
    if name.contains("${{") {
        bail_input!(
            "--from-workflow '{shown}': job '{job_name}' names its environment with an expression ('{name}'), \
             which is only known when it runs; give the environments with --github-environment"
        );
    }
    Ok(Some(name))
}

/// The job has a step that uses ecr-ship: its subject is what the trust policy must admit.
fn ships(job: &Value) -> bool {
    job.get("steps").and_then(Value::as_array).is_some_and(|steps| steps.iter().any(step_is_ecr_ship))
}

/// `uses: OWNER/ecr-ship@REF` (or a path inside that repository).
fn step_is_ecr_ship(step: &Value) -> bool {
    let Some(uses) = step.get("uses").and_then(Value::as_str) else { return false };
    let action = uses.split('@').next().unwrap_or_default();
    action.split('/').nth(1) == Some("ecr-ship")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(list: &[&str]) -> Vec<GithubSubject> {
        list.iter().map(|r| GithubSubject::Ref(r.to_string())).collect()
    }

    #[test]
    fn filter_patterns_become_string_like_patterns() {
        for (pattern, expected, widened) in [
            ("main", &["main"][..], false),
            ("v*", &["v*"], false),
            ("**", &["*"], false),
            ("release/**", &["release/*"], false),
            ("feature/*/docs", &["feature/*/docs"], false),
            ("v1?", &["v", "v1"], false),
            ("ab?c?", &["a", "ac", "ab", "abc"], false),
            ("v[0-9]*", &["v?*"], true),
            ("v1+", &["v1*"], true),
            ("a\\+b", &["a+b"], false),
            ("user@x", &["user@x"], false),
        ] {
            let translated = translate_filter(pattern).unwrap();
            assert_eq!(translated.patterns, expected, "{pattern}");
            assert_eq!(translated.widened, widened, "{pattern}");
        }
        for bad in ["?x", "+", "v[0-9", "a:b", "a b", "x\\", "a?b?c?d?e?"] {
            let error = translate_filter(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2, "{bad}");
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn triggers_map_to_subjects() {
        let pr = GithubSubject::PullRequest;
        let cases: Vec<(&str, Vec<GithubSubject>, usize)> = vec![
            ("on: push", refs(&["refs/heads/*", "refs/tags/*"]), 0),
            ("on: [pull_request, pull_request_target]", vec![pr.clone()], 0),
            ("on:\n  push:\n    branches: [main]\n", refs(&["refs/heads/main"]), 0),
            ("on:\n  push:\n    tags: ['v*']\n", refs(&["refs/tags/v*"]), 0),
            (
                "on:\n  push:\n    branches: [main]\n    tags: ['v*']\n  pull_request:\n",
                [refs(&["refs/heads/main", "refs/tags/v*"]), vec![pr.clone()]].concat(),
                0,
            ),
            ("on:\n  push:\n    branches: ['main', '!main-old']\n", refs(&["refs/heads/main"]), 1),
            ("on:\n  push:\n    branches-ignore: [wip]\n", refs(&["refs/heads/*"]), 1),
            ("on:\n  push:\n    tags: ['v[0-9]*']\n", refs(&["refs/tags/v?*"]), 1),
            ("on:\n  schedule:\n    - cron: '0 3 * * *'\n", refs(&["refs/heads/trunk"]), 0),
            ("on: workflow_dispatch", refs(&["refs/heads/*", "refs/tags/*"]), 1),
            ("on:\n  release:\n    types: [published]\n", refs(&["refs/tags/*"]), 0),
            ("on: merge_group", refs(&["refs/heads/gh-readonly-queue/*"]), 0),
        ];
        for (on, mut expected, warnings) in cases {
            let text = format!("{on}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: true\n");
            let trust = from_text(&text, "w.yml", "trunk").unwrap();
            expected.sort();
            assert_eq!(trust.subjects, expected, "{on}");
            assert_eq!(trust.warnings.len(), warnings, "{on}: {:?}", trust.warnings);
            assert!(!trust.create_repository);
        }
    }

    #[test]
    fn a_job_with_an_environment_presents_the_environment_not_the_ref() {
        let text = "on: [push, pull_request]\njobs:\n  build:\n    runs-on: x\n    steps: [{run: make}]\n  \
                    deploy:\n    environment: {name: prod, url: 'https://x'}\n    runs-on: x\n    steps:\n      - uses: \
                    octo/ecr-ship@v1\n        with:\n          create-repository: true\n";
        let trust = from_text(text, "w.yml", "main").unwrap();
        assert_eq!(trust.subjects, vec![GithubSubject::Environment("prod".into())], "only the shipping job counts");
        assert!(trust.create_repository);

        let both = text.replace("steps: [{run: make}]", "steps: [{uses: octo/ecr-ship@v1}]");
        let trust = from_text(&both, "w.yml", "main").unwrap();
        let mut expected = refs(&["refs/heads/*", "refs/tags/*"]);
        expected.extend([GithubSubject::Environment("prod".into()), GithubSubject::PullRequest]);
        expected.sort();
        assert_eq!(trust.subjects, expected);
    }

    #[test]
    fn unknown_forms_are_refused_by_name() {
        let jobs = "\njobs:\n  a:\n    runs-on: x\n    steps: [{run: x}]\n";
        for (on, named) in [
            ("on: pull_request_review", "pull_request_review"),
            ("on: workflow_call", "workflow_call"),
            ("on:\n  push:\n    branchez: [main]", "branchez"),
            ("on: 3", "on:"),
            ("name: x", "on:"),
        ] {
            let error = from_text(&format!("{on}{jobs}"), "w.yml", "main").unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2, "{on}");
            assert!(error.to_string().contains(named) && error.to_string().contains("w.yml"), "{error}");
        }
        let expression = "on: push\njobs:\n  a:\n    environment: ${{ inputs.env }}\n    steps: [{run: x}]\n";
        let error = from_text(expression, "w.yml", "main").unwrap_err();
        assert!(error.to_string().contains("expression"), "{error}");
    }
}
