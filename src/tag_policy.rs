//! Tag policy, pure: given the tags a push plans, the tags the repository already has and its tag mutability,
//! decide for each tag whether to put it, leave it (already there), skip it, or refuse the push.
//!
//! Re-runs are the normal case in CI, so tagging is idempotent: a tag that already points at the same digest is
//! reported as present (ECR answers `ImageAlreadyExistsException` there, even on mutable repositories), and a tag
//! that points at another image in an immutable repository is refused before anything is uploaded, or skipped with
//! `--skip-existing`. Exclusion filters of the `*_WITH_EXCLUSION` modes are honoured, with ECR's wildcard rules.

use std::collections::BTreeMap;

/// ECR's four tag-mutability modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMutability {
    Mutable,
    Immutable,
    ImmutableWithExclusion,
    MutableWithExclusion,
}

impl TagMutability {
    /// The mode as ECR spells it (case-insensitive on input).
    pub fn parse(text: &str) -> Option<TagMutability> {
        Some(match text.trim().to_ascii_uppercase().as_str() {
            "MUTABLE" => TagMutability::Mutable,
            "IMMUTABLE" => TagMutability::Immutable,
            "IMMUTABLE_WITH_EXCLUSION" => TagMutability::ImmutableWithExclusion,
            "MUTABLE_WITH_EXCLUSION" => TagMutability::MutableWithExclusion,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TagMutability::Mutable => "MUTABLE",
            TagMutability::Immutable => "IMMUTABLE",
            TagMutability::ImmutableWithExclusion => "IMMUTABLE_WITH_EXCLUSION",
            TagMutability::MutableWithExclusion => "MUTABLE_WITH_EXCLUSION",
        }
    }

    /// True for the two modes that take exclusion filters.
    pub fn has_exclusions(self) -> bool {
        matches!(self, TagMutability::ImmutableWithExclusion | TagMutability::MutableWithExclusion)
    }
}

/// A repository's tag mutability and its exclusion filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutability {
    pub mode: TagMutability,
    /// ECR's wildcard filters naming the tags exempt from `mode`.
    pub exclusions: Vec<String>,
}

impl Mutability {
    /// Whether an existing `tag` may be moved to another image.
    pub fn may_overwrite(&self, tag: &str) -> bool {
        let excluded = self.exclusions.iter().any(|filter| wildcard_match(filter, tag));
        match self.mode {
            TagMutability::Immutable => false,
            TagMutability::ImmutableWithExclusion => excluded,
            TagMutability::MutableWithExclusion => !excluded,
            TagMutability::Mutable => true,
        }
    }
}

/// ECR's WILDCARD filter: `*` matches any run of characters, everything else matches itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

/// What to do with one planned tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagAction {
    /// Write the tag (new, or movable).
    Put,
    /// Already points at this image: nothing to do.
    Present,
    /// Points at another image and may not move; skipped on the user's request.
    Skipped { existing: String },
}

/// Decides every tag before anything is uploaded. A tag that points at another image and may not move is an error
/// naming the tag, unless `skip_existing`.
pub fn decide_tags(
    tags: &[String],
    existing: &BTreeMap<String, String>,
    digest: Option<&str>,
    mutability: &Mutability,
    skip_existing: bool,
    repository: &str,
) -> anyhow::Result<Vec<(String, TagAction)>> {
    let mut actions = Vec::with_capacity(tags.len());
    for tag in tags {
        let action = match existing.get(tag) {
            None => TagAction::Put,
            Some(current) if Some(current.as_str()) == digest => TagAction::Present,
            Some(_) if mutability.may_overwrite(tag) => TagAction::Put,
            Some(current) if skip_existing => TagAction::Skipped { existing: current.clone() },
            Some(current) => anyhow::bail!(
                "tag '{tag}' already points at {current} in the {mode} repository '{repository}' and cannot be moved; \
                 nothing was uploaded. Use commit-hash tags (the default `sha-<hex>`), add '{tag}' to the repository's \
                 mutability exclusion filters (--tag-mutability IMMUTABLE_WITH_EXCLUSION --mutability-exclusion '{tag}'), \
                 or {} to skip such tags",
                crate::advice::pass("skip-existing", None),
                mode = mutability.mode.as_str()
            ),
        };
        actions.push((tag.clone(), action));
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_in_any_case_and_print_as_ecr_spells_them() {
        for (text, mode) in [
            ("MUTABLE", TagMutability::Mutable),
            ("immutable", TagMutability::Immutable),
            (" Immutable_With_Exclusion ", TagMutability::ImmutableWithExclusion),
            ("MUTABLE_WITH_EXCLUSION", TagMutability::MutableWithExclusion),
        ] {
            assert_eq!(TagMutability::parse(text), Some(mode), "{text}");
            assert_eq!(TagMutability::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(TagMutability::parse("FROZEN"), None);
        assert!(TagMutability::MutableWithExclusion.has_exclusions() && !TagMutability::Immutable.has_exclusions());
    }

    #[test]
    fn wildcards() {
        for (pattern, text, expected) in [
            ("latest", "latest", true),
            ("latest", "latest2", false),
            ("main*", "main-abc", true),
            ("*-dev", "feature-dev", true),
            ("*", "anything", true),
            ("v*.*", "v1.2", true),
            ("v*.*", "v12", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
        ] {
            assert_eq!(wildcard_match(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn mutability_rules() {
        let m = |mode: &str, ex: &[&str]| Mutability {
            mode: TagMutability::parse(mode).unwrap(),
            exclusions: ex.iter().map(|s| s.to_string()).collect(),
        };
        assert!(m("MUTABLE", &[]).may_overwrite("x"));
        assert!(!m("IMMUTABLE", &["x"]).may_overwrite("x"));
        assert!(m("IMMUTABLE_WITH_EXCLUSION", &["latest", "main*"]).may_overwrite("main-1"));
        assert!(!m("IMMUTABLE_WITH_EXCLUSION", &["latest"]).may_overwrite("v1"));
        assert!(!m("MUTABLE_WITH_EXCLUSION", &["v*"]).may_overwrite("v1"));
        assert!(m("MUTABLE_WITH_EXCLUSION", &["v*"]).may_overwrite("main"));
    }

    #[test]
    fn tag_plans() {
        let tags: Vec<String> = ["sha-1", "main", "v1"].iter().map(|s| s.to_string()).collect();
        let existing: BTreeMap<String, String> = [("sha-1", "sha256:aa"), ("main", "sha256:bb"), ("v1", "sha256:cc")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let immutable = Mutability { mode: TagMutability::ImmutableWithExclusion, exclusions: vec!["main".into()] };
        let error = decide_tags(&tags, &existing, Some("sha256:aa"), &immutable, false, "team/app").unwrap_err();
        assert_eq!(crate::error::exit_code(&error), 1, "found on the server, so not exit 2 (nothing contacted)");
        assert!(error.to_string().contains("tag 'v1' already points at sha256:cc"), "{error}");
        let skipped = decide_tags(&tags, &existing, Some("sha256:aa"), &immutable, true, "team/app").unwrap();
        assert_eq!(
            skipped,
            vec![
                ("sha-1".to_string(), TagAction::Present),
                ("main".to_string(), TagAction::Put),
                ("v1".to_string(), TagAction::Skipped { existing: "sha256:cc".into() })
            ]
        );
        let mutable = Mutability { mode: TagMutability::Mutable, exclusions: vec![] };
        let all = decide_tags(&tags, &BTreeMap::new(), None, &mutable, false, "r").unwrap();
        assert!(all.iter().all(|(_, a)| *a == TagAction::Put));
    }
}
