//! Names the registry accepts: ECR repository names and Docker/OCI tags.
//!
//! This module owns the two grammars and their validators. Tags produced by the planner are valid by construction
//! (see `tags`); the validators here check names that come straight from the user, and are also the oracle the
//! property tests hold the planner to.

use crate::bail_input;

/// Longest tag the Docker/OCI grammar allows.
pub const MAX_TAG_LEN: usize = 128;
/// ECR repository name length bounds (API `Repository` shape).
pub const REPOSITORY_LEN: std::ops::RangeInclusive<usize> = 2..=256;
/// ECR Public repository name length bounds (ECR Public API reference, CreateRepository `repositoryName`).
pub const PUBLIC_REPOSITORY_LEN: std::ops::RangeInclusive<usize> = 2..=205;
/// ECR Public registry alias length bounds (ECR Public API reference, `RegistryAlias.name`).
pub const PUBLIC_ALIAS_LEN: std::ops::RangeInclusive<usize> = 2..=50;

/// True when `tag` matches `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphanumeric() || first == '_' => {}
        _ => return false,
    }
    tag.len() <= MAX_TAG_LEN && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Checks a tag given literally by the user (for example the source of a retag).
pub fn validate_tag(tag: &str) -> anyhow::Result<()> {
    if !is_valid_tag(tag) {
        bail_input!(
            "invalid tag '{tag}': a tag is 1-128 characters of [A-Za-z0-9_.-] and must not start with '.' or '-'"
        );
    }
    Ok(())
}

/// Checks an ECR repository name: lower-case path components `[a-z0-9]+(?:[._-][a-z0-9]+)*` joined by '/',
/// 2 to 256 characters in all.
pub fn validate_repository(name: &str) -> anyhow::Result<()> {
    let allowed = "repository names are 2-256 characters of lower-case path components [a-z0-9]+([._-][a-z0-9]+)* \
                   joined by '/', for example 'team/app'";
    if !REPOSITORY_LEN.contains(&name.len()) {
        bail_input!("invalid repository name '{name}' ({} characters): {allowed}", name.len());
    }
    if let Some(problem) = repository_problem(name) {
        bail_input!("invalid repository name '{name}': {problem}; {allowed}");
    }
    Ok(())
}

/// Checks an ECR Public repository name: the same grammar as private ECR's, 2 to 205 characters (the ECR Public API
/// reference's `repositoryName`). The name is the part after the alias: `app` in `public.ecr.aws/alias/app`.
pub fn validate_public_repository(name: &str) -> anyhow::Result<()> {
    let allowed = "ECR Public repository names are 2-205 characters of lower-case path components \
                   [a-z0-9]+([._-][a-z0-9]+)* joined by '/', for example 'app' or 'tools/app'";
    if !PUBLIC_REPOSITORY_LEN.contains(&name.len()) {
        bail_input!("invalid repository name '{name}' ({} characters): {allowed}", name.len());
    }
    if let Some(problem) = repository_problem(name) {
        bail_input!("invalid repository name '{name}': {problem}; {allowed}");
    }
    Ok(())
}

/// Checks an ECR Public registry alias: `[a-z][a-z0-9]+(?:[._-][a-z0-9]+)*`, 2 to 50 characters (the ECR Public
/// API reference's `RegistryAlias.name`).
pub fn validate_public_alias(alias: &str) -> anyhow::Result<()> {
    let allowed = "an ECR Public registry alias is 2-50 characters: a lower-case letter, then lower-case letters and \
                   digits, optionally in groups joined by single '.', '_' or '-'";
    let first_ok = alias.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    let single_component = !alias.contains('/');
    if !PUBLIC_ALIAS_LEN.contains(&alias.len()) || !first_ok || !single_component || repository_problem(alias).is_some()
    {
        bail_input!("invalid ECR Public registry alias '{alias}': {allowed}");
    }
    Ok(())
}

fn repository_problem(name: &str) -> Option<String> {
    if let Some(upper) = name.chars().find(|c| c.is_ascii_uppercase()) {
        return Some(format!("upper-case '{upper}' is not allowed"));
    }
    for component in name.split('/') {
        if component.is_empty() {
            return Some("empty path component (leading, trailing or doubled '/')".into());
        }
        let bytes = component.as_bytes();
        if let Some(bad) =
            component.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(*c)))
        {
            return Some(format!("character '{bad}' is not allowed"));
        }
        let is_separator = |b: u8| b"._-".contains(&b);
        if is_separator(bytes[0]) || is_separator(bytes[bytes.len() - 1]) {
            return Some(format!("component '{component}' must start and end with a letter or digit"));
        }
        if bytes.windows(2).any(|pair| is_separator(pair[0]) && is_separator(pair[1])) {
            return Some(format!("component '{component}' has two separators in a row"));
        }
    }
    None
}

/// A shell-style match of a tag against a pattern: `*` any run of characters (none included), `?` one character,
/// everything else itself. ECR's lifecycle tag patterns are the `*`-only case; prune's `--match` takes both.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_grammars() {
        for good in ["ab", "a1", "ecr-ship-test", "a.b_c-d", &format!("a{}", "b".repeat(49))] {
            assert!(validate_public_alias(good).is_ok(), "{good}");
        }
        for bad in ["a", "1ab", "-ab", "ab-", "a--b", "Ab", "a/b", "a b", "", &"a".repeat(51)] {
            let error = validate_public_alias(bad).expect_err(bad);
            assert_eq!(crate::error::exit_code(&error), 2);
            assert!(error.to_string().contains(&format!("'{bad}'")), "{error}");
        }
        for good in ["ab", "tools/app", &"a".repeat(205)] {
            assert!(validate_public_repository(good).is_ok(), "{good}");
        }
        for bad in ["a", "App", "a//b", &"a".repeat(206)] {
            assert_eq!(crate::error::exit_code(&validate_public_repository(bad).expect_err(bad)), 2, "{bad}");
        }
    }

    #[test]
    fn tag_grammar() {
        for good in ["v1", "_x", "1.2.3", "a-b_c.d", &"a".repeat(128)] {
            assert!(is_valid_tag(good), "{good}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "a+b", "ü", &"a".repeat(129)] {
            assert!(!is_valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn repository_grammar() {
        for good in ["ab", "team/app", "a.b_c-d/e1", "project-a/nginx-web-app", &"a".repeat(256)] {
            assert!(validate_repository(good).is_ok(), "{good}");
        }
        let cases = [
            ("Team/app", "upper-case 'T'"),
            ("team//app", "empty path component"),
            ("-team", "must start and end"),
            ("team/app/", "empty path component"),
            ("a", "(1 characters)"),
            ("te__am", "two separators"),
            ("team app", "character ' '"),
        ];
        for (bad, expected) in cases {
            let message = validate_repository(bad).unwrap_err().to_string();
            assert!(message.contains(expected) && message.contains(bad), "{bad}: {message}");
        }
        let long = "a".repeat(257);
        assert!(validate_repository(&long).unwrap_err().to_string().contains("257 characters"));
    }
}
