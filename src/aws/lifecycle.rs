//! ECR's rules for a lifecycle policy, checked offline: what PutLifecyclePolicy accepts (docs/ecr-behaviour.md §17,
//! from the ECR User Guide's "Lifecycle policy properties" and its evaluation rules), so a generated or a user's
//! policy that ECR would refuse is bad input before anything is sent.
//!
//! The checks: a JSON object with a `rules` list; each rule a unique positive integer `rulePriority`, an optional
//! string `description`, a `selection` and an `action` of type `expire`, or `transition` with `targetStorageClass`
//! `archive`; `tagStatus` `tagged` (with exactly one of a non-empty `tagPrefixList` or `tagPatternList`), `untagged`
//! (with neither) or `any`; at most four `*` wildcards in a pattern; an optional `storageClass` `standard` or
//! `archive`; `countType` `imageCountMoreThan` (no `countUnit`) or an age, `sinceImagePushed`, `sinceImagePulled`
//! or `sinceImageTransitioned` (with `countUnit` `days`), and a `countNumber` of at least 1; a rule of `tagStatus`
//! `any` has the highest priority of all. Unknown keys are refused, since ECR's schema refuses them and a misspelt
//! key would otherwise select every image. What the guide does not state is left to ECR. Pure.

use serde_json::{Map, Value};

use crate::bail_input;

/// The most `*` wildcards ECR accepts in one `tagPatternList` entry.
pub const MAX_WILDCARDS: usize = 4;

/// Checks a lifecycle policy document against ECR's rules; `origin` names where it came from in the error
/// ("the lifecycle policy file 'x.json'").
pub fn validate(policy: &Value, origin: &str) -> anyhow::Result<()> {
    match problem(policy) {
        Some(problem) => bail_input!("{origin} is not one ECR accepts: {problem}"),
        None => Ok(()),
    }
}

/// [`validate`] for policy text already known to be JSON (the repository settings' file or inline policy).
pub fn validate_text(text: &str, origin: &str) -> anyhow::Result<()> {
    match serde_json::from_str::<Value>(text) {
        Ok(policy) => validate(&policy, origin),
        Err(e) => bail_input!("{origin} is not valid JSON: {e}"),
    }
}

/// The first way `policy` breaks ECR's rules, in words, or `None` when ECR accepts it.
pub fn problem(policy: &Value) -> Option<String> {
    let Some(top) = policy.as_object() else { return Some("it must be a JSON object".into()) };
    if let Some(key) = top.keys().find(|key| key.as_str() != "rules") {
        return Some(format!("unknown key '{key}' (a lifecycle policy has only \"rules\")"));
    }
    let Some(rules) = top.get("rules").and_then(Value::as_array) else {
        return Some("it needs a \"rules\" list".into());
    };
    let mut priorities: Vec<(i64, &str)> = Vec::with_capacity(rules.len());
    for (index, rule) in rules.iter().enumerate() {
        let at = format!("rule {}", index + 1);
        let Some(rule) = rule.as_object() else { return Some(format!("{at} is not a JSON object")) };
        let (priority, status) = match rule_problem(rule) {
            Ok(found) => found,
            Err(problem) => return Some(format!("{at}: {problem}")),
        };
        if let Some((_, _)) = priorities.iter().find(|(p, _)| *p == priority) {
            return Some(format!("{at}: rulePriority {priority} is used twice (each rule needs its own)"));
        }
        priorities.push((priority, status));
    }
    let highest = priorities.iter().map(|(p, _)| *p).max();
    if let Some((priority, _)) = priorities.iter().find(|(_, status)| *status == "any")
        && Some(*priority) != highest
    {
        return Some(format!(
            "the rule of tagStatus any has rulePriority {priority}, but it must have the highest priority number of \
             all rules ({}), so that it is evaluated last",
            highest.unwrap_or(*priority)
        ));
    }
    None
}

/// One rule's problem, or its priority and tag status.
fn rule_problem(rule: &Map<String, Value>) -> Result<(i64, &str), String> {
    if let Some(key) =
        rule.keys().find(|k| !["rulePriority", "description", "selection", "action"].contains(&k.as_str()))
    {
        return Err(format!("unknown key '{key}' (a rule has rulePriority, description, selection and action)"));
    }
    let priority = match rule.get("rulePriority") {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(p) if p >= 1 => p,
            _ => return Err(format!("rulePriority {n} is not a positive whole number")),
        },
        Some(other) => return Err(format!("rulePriority {other} is not a positive whole number")),
        None => return Err("rulePriority is missing".into()),
    };
    if rule.get("description").is_some_and(|d| !d.is_string()) {
        return Err("description must be a string".into());
    }
    let expire = serde_json::json!({"type": "expire"});
    let transition = serde_json::json!({"type": "transition", "targetStorageClass": "archive"});
    match rule.get("action") {
        Some(action) if *action == expire || *action == transition => {}
        Some(action) => {
            return Err(format!(
                "action {action} is not {{\"type\": \"expire\"}} or {{\"type\": \"transition\", \
                 \"targetStorageClass\": \"archive\"}}"
            ));
        }
        None => return Err("action is missing (it is {\"type\": \"expire\"})".into()),
    }
    let Some(selection) = rule.get("selection").and_then(Value::as_object) else {
        return Err("selection is missing or not a JSON object".into());
    };
    let status = selection_problem(selection)?;
    Ok((priority, status))
}

const SELECTION_KEYS: [&str; 7] =
    ["tagStatus", "tagPatternList", "tagPrefixList", "storageClass", "countType", "countUnit", "countNumber"];

/// The count types that count days since an event, with `countUnit` `days`.
const AGE_COUNT_TYPES: [&str; 3] = ["sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned"];

fn selection_problem(selection: &Map<String, Value>) -> Result<&'static str, String> {
    if let Some(key) = selection.keys().find(|k| !SELECTION_KEYS.contains(&k.as_str())) {
        return Err(format!("unknown selection key '{key}' (known: {})", SELECTION_KEYS.join(", ")));
    }
    match selection.get("storageClass") {
        None => {}
        Some(class) if matches!(class.as_str(), Some("standard" | "archive")) => {}
        Some(other) => return Err(format!("storageClass {other} is not standard or archive")),
    }
    let status = match selection.get("tagStatus").and_then(Value::as_str) {
        Some("tagged") => "tagged",
        Some("untagged") => "untagged",
        Some("any") => "any",
        Some(other) => return Err(format!("tagStatus '{other}' is not tagged, untagged or any")),
        None => return Err("tagStatus is missing (tagged, untagged or any)".into()),
    };
    let list = |key: &str| -> Result<Option<Vec<&str>>, String> {
        match selection.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                let texts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                match texts {
                    Some(texts) if !texts.is_empty() && texts.iter().all(|t| !t.is_empty()) => Ok(Some(texts)),
                    _ => Err(format!("{key} must be a non-empty list of non-empty strings")),
                }
            }
            Some(_) => Err(format!("{key} must be a list of strings")),
        }
    };
    let (patterns, prefixes) = (list("tagPatternList")?, list("tagPrefixList")?);
    match (status, &patterns, &prefixes) {
        ("tagged", Some(_), Some(_)) => return Err("give tagPatternList or tagPrefixList, not both".into()),
        ("tagged", None, None) => return Err("tagStatus tagged needs a tagPatternList or a tagPrefixList".into()),
        // The guide forbids the lists for untagged only; for any it says nothing, so ECR decides.
        ("untagged", Some(_), _) | ("untagged", _, Some(_)) => {
            return Err(format!("tagStatus {status} takes no tagPatternList or tagPrefixList"));
        }
        _ => {}
    }
    for pattern in patterns.iter().flatten() {
        let wildcards = pattern.matches('*').count();
        if wildcards > MAX_WILDCARDS {
            return Err(format!(
                "tag pattern '{pattern}' has {wildcards} wildcards; ECR allows at most {MAX_WILDCARDS} per pattern"
            ));
        }
    }
    let number = match selection.get("countNumber") {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) if n >= 1 => n,
            _ => return Err(format!("countNumber {n} is not a whole number of at least 1")),
        },
        Some(other) => return Err(format!("countNumber {other} is not a whole number of at least 1")),
        None => return Err("countNumber is missing".into()),
    };
    let unit = selection.get("countUnit");
    match selection.get("countType").and_then(Value::as_str) {
        Some("imageCountMoreThan") if unit.is_some() => {
            return Err("countType imageCountMoreThan takes no countUnit".into());
        }
        Some("imageCountMoreThan") => {}
        Some(age) if AGE_COUNT_TYPES.contains(&age) && unit == Some(&Value::from("days")) => {}
        Some(age) if AGE_COUNT_TYPES.contains(&age) => return Err(format!("countType {age} needs countUnit \"days\"")),
        Some(other) => {
            return Err(format!(
                "countType '{other}' is not imageCountMoreThan, {} (countNumber {number})",
                AGE_COUNT_TYPES.join(", ")
            ));
        }
        None => return Err(format!("countType is missing (imageCountMoreThan, {})", AGE_COUNT_TYPES.join(", "))),
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(priority: i64, selection: Value) -> Value {
        json!({"rulePriority": priority, "description": "d", "selection": selection, "action": {"type": "expire"}})
    }

    fn untagged(priority: i64) -> Value {
        rule(
            priority,
            json!({"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}),
        )
    }

    fn tagged(priority: i64, patterns: &[&str]) -> Value {
        rule(
            priority,
            json!({"tagStatus": "tagged", "tagPatternList": patterns, "countType": "imageCountMoreThan", "countNumber": 3}),
        )
    }

    #[test]
    fn policies_ecr_accepts() {
        let any_last = rule(9, json!({"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10}));
        for policy in [
            json!({"rules": []}),
            json!({"rules": [tagged(1, &["prod*"]), untagged(2)]}),
            json!({"rules": [untagged(20), tagged(10, &["*test*1*2*3", "test*1*2*3*"])]}),
            json!({"rules": [tagged(1, &["main"]), untagged(2), any_last]}),
            json!({"rules": [rule(1, json!({"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1}))]}),
            // Two untagged rules: the guide sets no limit, so ECR decides.
            json!({"rules": [untagged(1), untagged(2)]}),
            // The archive storage class: transitions, and ages since the last pull or the transition.
            json!({"rules": [
                {"rulePriority": 1, "selection": {"tagStatus": "any", "storageClass": "standard", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 90}, "action": {"type": "transition", "targetStorageClass": "archive"}}
            ]}),
            json!({"rules": [
                {"rulePriority": 1, "selection": {"tagStatus": "untagged", "storageClass": "archive", "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 30}, "action": {"type": "expire"}}
            ]}),
        ] {
            assert_eq!(problem(&policy), None, "{policy}");
        }
    }

    #[test]
    fn policies_ecr_refuses_are_named() {
        let selection = |s: Value| json!({"rules": [rule(1, s)]});
        let cases: Vec<(Value, &str)> = vec![
            (json!([]), "JSON object"),
            (json!({"rules": [], "version": 1}), "unknown key 'version'"),
            (json!({}), "\"rules\" list"),
            (json!({"rules": [tagged(1, &["a*"]), tagged(1, &["b*"])]}), "rulePriority 1 is used twice"),
            (json!({"rules": [tagged(0, &["a*"])]}), "rulePriority 0"),
            (json!({"rules": [tagged(-2, &["a*"])]}), "rulePriority -2"),
            (
                json!({"rules": [{"rulePriority": 1.5, "selection": {}, "action": {"type": "expire"}}]}),
                "rulePriority 1.5",
            ),
            (json!({"rules": [tagged(1, &["test*1*2*3*4*5*6"])]}), "6 wildcards"),
            (json!({"rules": [tagged(1, &["a*b*c*d*e*"])]}), "5 wildcards"),
            (
                selection(
                    json!({"tagStatus": "untagged", "storageClass": "glacier", "countType": "imageCountMoreThan", "countNumber": 1}),
                ),
                "storageClass \"glacier\"",
            ),
            (
                selection(json!({"tagStatus": "untagged", "countType": "sinceImagePulled", "countNumber": 1})),
                "sinceImagePulled needs countUnit",
            ),
            (
                json!({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "transition"}}]}),
                "is not {\"type\": \"expire\"} or",
            ),
            (
                json!({"rules": [rule(1, json!({"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1})), tagged(2, &["x"])]}),
                "highest priority",
            ),
            (
                selection(json!({"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1})),
                "needs a tagPatternList",
            ),
            (
                selection(
                    json!({"tagStatus": "tagged", "tagPatternList": ["a"], "tagPrefixList": ["a"], "countType": "imageCountMoreThan", "countNumber": 1}),
                ),
                "not both",
            ),
            (
                selection(
                    json!({"tagStatus": "untagged", "tagPrefixList": ["a"], "countType": "imageCountMoreThan", "countNumber": 1}),
                ),
                "takes no tagPatternList",
            ),
            (
                selection(
                    json!({"tagStatus": "tagged", "tagPatternList": [], "countType": "imageCountMoreThan", "countNumber": 1}),
                ),
                "non-empty list",
            ),
            (
                selection(json!({"tagStatus": "everything", "countType": "imageCountMoreThan", "countNumber": 1})),
                "tagStatus 'everything'",
            ),
            (
                selection(json!({"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 1})),
                "countUnit \"days\"",
            ),
            (
                selection(
                    json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countUnit": "days", "countNumber": 1}),
                ),
                "takes no countUnit",
            ),
            (
                selection(json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 0})),
                "countNumber 0",
            ),
            (selection(json!({"tagStatus": "untagged", "countType": "imageCountMoreThan"})), "countNumber is missing"),
            (
                selection(json!({"tagStatus": "untagged", "countType": "newest", "countNumber": 1})),
                "countType 'newest'",
            ),
            (
                selection(
                    json!({"tagStatus": "tagged", "tagPrefix": ["a"], "countType": "imageCountMoreThan", "countNumber": 1}),
                ),
                "unknown selection key 'tagPrefix'",
            ),
            (
                json!({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "delete"}}]}),
                "is not {\"type\": \"expire\"}",
            ),
            (
                json!({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}}]}),
                "action is missing",
            ),
        ];
        for (policy, expected) in cases {
            let found = problem(&policy).unwrap_or_else(|| panic!("accepted {policy}"));
            assert!(found.contains(expected), "{policy}: {found} (expected {expected})");
        }
        let error =
            validate(&json!({"rules": [tagged(1, &["a*"]), tagged(1, &["b*"])]}), "the lifecycle policy file 'x.json'")
                .unwrap_err();
        assert_eq!(crate::error::exit_code(&error), 2);
        assert!(
            error.to_string().starts_with("the lifecycle policy file 'x.json' is not one ECR accepts: "),
            "{error}"
        );
    }
}
