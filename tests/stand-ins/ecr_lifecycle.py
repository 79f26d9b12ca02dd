"""ECR's lifecycle policy rules inside the ECR stand-in: PutLifecyclePolicy refuses what real ECR refuses, where moto
stores any text (docs/ecr-behaviour.md §17, from the ECR User Guide's "Lifecycle policy properties" and its
evaluation rules; the refusal's wording is ECR's InvalidParameterException for LifecyclePolicyText).

The rules, the same as src/aws/lifecycle.rs checks offline: a JSON object with only a `rules` list; each rule has a
unique positive integer rulePriority, an optional string description, an action {"type": "expire"} or
{"type": "transition", "targetStorageClass": "archive"} and a selection of only tagStatus, tagPatternList,
tagPrefixList, storageClass (standard or archive), countType, countUnit and countNumber; tagStatus tagged needs
exactly one non-empty tagPatternList or tagPrefixList, untagged takes neither (for any the guide says nothing); at most four `*` per pattern;
countType imageCountMoreThan (no countUnit) or sinceImagePushed, sinceImagePulled or sinceImageTransitioned
(countUnit days); countNumber a whole number >= 1; the rule of tagStatus any has the highest rulePriority. Text over
30720 characters is refused too (the API's LifecyclePolicyText limit).
"""

import json

MAX_TEXT = 30720
MAX_WILDCARDS = 4
SELECTION_KEYS = {"tagStatus", "tagPatternList", "tagPrefixList", "storageClass", "countType", "countUnit", "countNumber"}
ACTIONS = ({"type": "expire"}, {"type": "transition", "targetStorageClass": "archive"})
AGE_COUNT_TYPES = ("sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")
RULE_KEYS = {"rulePriority", "description", "selection", "action"}


def whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def rule_problem(rule):
    """(problem, priority, tagStatus) of one rule."""
    if not isinstance(rule, dict):
        return "a rule is not a JSON object", None, None
    unknown = set(rule) - RULE_KEYS
    if unknown:
        return f"unknown rule key {sorted(unknown)[0]}", None, None
    priority = rule.get("rulePriority")
    if not whole(priority) or priority < 1:
        return f"rulePriority {priority!r} is not a positive integer", None, None
    if "description" in rule and not isinstance(rule["description"], str):
        return "description is not a string", None, None
    if rule.get("action") not in ACTIONS:
        return "action is not {\"type\": \"expire\"} or {\"type\": \"transition\", \"targetStorageClass\": \"archive\"}", None, None
    selection = rule.get("selection")
    if not isinstance(selection, dict):
        return "selection is missing", None, None
    unknown = set(selection) - SELECTION_KEYS
    if unknown:
        return f"unknown selection key {sorted(unknown)[0]}", None, None
    if selection.get("storageClass", "standard") not in ("standard", "archive"):
        return f"storageClass {selection['storageClass']!r} is not standard or archive", None, None
    status = selection.get("tagStatus")
    if status not in ("tagged", "untagged", "any"):
        return f"tagStatus {status!r} is not tagged, untagged or any", None, None
    lists = {}
    for key in ("tagPatternList", "tagPrefixList"):
        if key in selection:
            value = selection[key]
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                return f"{key} is not a non-empty list of strings", None, None
            lists[key] = value
    if status == "tagged" and len(lists) != 1:
        return "tagStatus tagged needs exactly one of tagPatternList and tagPrefixList", None, None
    if status == "untagged" and lists:
        return f"tagStatus {status} takes no tag list", None, None
    for pattern in lists.get("tagPatternList", []):
        if pattern.count("*") > MAX_WILDCARDS:
            return f"tag pattern {pattern} has more than {MAX_WILDCARDS} wildcards", None, None
    number = selection.get("countNumber")
    if not whole(number) or number < 1:
        return f"countNumber {number!r} is not an integer of at least 1", None, None
    count_type, unit = selection.get("countType"), selection.get("countUnit")
    if count_type == "imageCountMoreThan":
        if unit is not None:
            return "countType imageCountMoreThan takes no countUnit", None, None
    elif count_type in AGE_COUNT_TYPES:
        if unit != "days":
            return f"countType {count_type} needs countUnit days", None, None
    else:
        return f"countType {count_type!r} is not one of imageCountMoreThan, {', '.join(AGE_COUNT_TYPES)}", None, None
    return None, priority, status


def problem(text):
    """Why ECR would refuse this lifecycle policy text, or None when it accepts it."""
    if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
        return f"the policy text must have 1 to {MAX_TEXT} characters"
    try:
        policy = json.loads(text)
    except ValueError:
        return "the policy is not valid JSON"
    if not isinstance(policy, dict) or set(policy) != {"rules"} or not isinstance(policy["rules"], list):
        return "the policy must be an object with only a rules list"
    priorities, statuses = [], []
    for rule in policy["rules"]:
        found, priority, status = rule_problem(rule)
        if found:
            return found
        if priority in priorities:
            return f"rulePriority {priority} is not unique"
        priorities.append(priority)
        statuses.append(status)
    for priority, status in zip(priorities, statuses):
        if status == "any" and priority != max(priorities):
            return "the rule with tagStatus any must have the highest rulePriority"
    return None


def refusal(text):
    """ECR's InvalidParameterException message for a refused policy, or None."""
    found = problem(text)
    if found is None:
        return None
    return ("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation "
            f"failure: {found}'")
