//! The small parsing the CI systems share: refs to branches, tags and pull request numbers, repository URLs to
//! web pages, and the ecr-ship rule for a pull request's branch ([`set_branch`]). What each system's variables mean
//! is in its own module and `docs/ci-variables.md`.

use super::context::{CiContext, EnvMap, RepositoryFacts, var};

pub(super) fn strip_ref(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
}

pub(super) fn parse_pr(text: &str) -> Option<u64> {
    text.trim().parse().ok().filter(|n| *n > 0)
}

/// A pull request number from JSON, a number or a numeric string (`"10"`, as env-ci's GitHub payloads have it).
pub(super) fn json_pr(value: &serde_json::Value) -> Option<u64> {
    value.as_u64().filter(|n| *n > 0).or_else(|| value.as_str().and_then(parse_pr))
}

/// The last run of digits in a pull request's URL or name (`https://github.com/o/r/pull/10`, `uri/pr/10`).
pub(super) fn pr_from_url(url: &str) -> Option<u64> {
    let digits = url.rsplit(|c: char| !c.is_ascii_digit()).find(|part| !part.is_empty())?;
    parse_pr(digits)
}

/// A branch as CI systems spell it, `refs/heads/x` or plain `x`; `None` for a tag or pull request ref.
pub(super) fn branch_from_ref(reference: &str) -> Option<&str> {
    if reference.starts_with("refs/") && !reference.starts_with("refs/heads/") {
        return None;
    }
    Some(strip_ref(reference))
}

/// A repository's web page and name from a URL the CI system gives: `https://host/owner/repo`, with a trailing
/// `.git` and any credentials dropped. Clone URLs over SSH are not web pages and give nothing.
pub(super) fn repository_from_url(url: Option<&str>, name: Option<&str>) -> RepositoryFacts {
    let url = url.filter(|u| u.starts_with("https://") || u.starts_with("http://")).map(|u| {
        let u = u.split('#').next().unwrap_or(u);
        let (scheme, rest) = u.split_once("://").unwrap_or(("https", u));
        let rest = rest.split_once('@').filter(|(user, _)| !user.contains('/')).map_or(rest, |(_, host)| host);
        let rest = rest.trim_end_matches('/');
        format!("{scheme}://{}", rest.strip_suffix(".git").unwrap_or(rest))
    });
    let name =
        name.map(str::to_string).or_else(|| url.as_deref().and_then(|u| u.rsplit('/').next()).map(str::to_string));
    RepositoryFacts { name, url, ..RepositoryFacts::default() }
}

/// `refs/pull/<n>/merge` (GitHub, Azure) or `refs/pull/<n>/head` to the number.
pub(super) fn pr_from_ref(reference: &str) -> Option<u64> {
    let rest = reference.strip_prefix("refs/pull/")?;
    parse_pr(rest.split('/').next()?)
}

/// A full commit id in either case (SHA-1 or SHA-256 repositories); [`normalize_sha`](super::normalize_sha)
/// lower-cases it.
pub(super) fn is_hex_sha(value: &str) -> bool {
    (value.len() == 40 || value.len() == 64) && crate::digest::is_hex(value)
}

pub(super) fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_string)
}

/// The first of `keys` that is set.
pub(super) fn first<'a>(env: &'a EnvMap, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|key| var(env, key))
}

/// A pull request number from a variable that says `false` when the build is not of one (Travis, Bitrise).
pub(super) fn pr_unless_false(env: &EnvMap, key: &str) -> Option<u64> {
    var(env, key).filter(|v| *v != "false").and_then(parse_pr)
}

/// The branch the ecr-ship way: a pull request's source branch (its target becomes `base_ref`), else the branch
/// unless the build is of a tag. A PR without a source variable gets no branch: most systems' branch variable is
/// the target there.
pub(super) fn set_branch(context: &mut CiContext, branch: Option<&str>, source: Option<&str>, target: Option<&str>) {
    if context.pr.is_some() {
        context.branch = source.map(|b| strip_ref(b).to_string());
        context.base_ref = target.map(|b| strip_ref(b).to_string());
    } else if context.git_tag.is_none() {
        context.branch = branch.and_then(branch_from_ref).map(str::to_string);
    }
}

/// A repository's web page from its clone URL, for the hosts whose clone URL is the page plus `.git` (GitHub,
/// GitLab, Bitbucket Cloud), over HTTPS or SSH (`git@github.com:octo/app.git`). Other hosts' clone URLs
/// (CodeCommit, Bitbucket Server's `/scm/…`) are not web pages and give nothing.
pub(super) fn repository_from_clone_url(url: Option<&str>) -> RepositoryFacts {
    let host_and_path = url.and_then(|url| match url.split_once("://") {
        Some((_, rest)) => {
            let (authority, path) = rest.split_once('/')?;
            Some((authority.rsplit('@').next()?.split(':').next()?, path))
        }
        None => url.strip_prefix("git@")?.split_once(':'),
    });
    match host_and_path {
        Some((host, path)) if matches!(host, "github.com" | "gitlab.com" | "bitbucket.org") => {
            repository_from_url(Some(&format!("https://{host}/{path}")), None)
        }
        _ => RepositoryFacts::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_urls_become_web_pages() {
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("https://gitlab.com/group/app", Some("https://gitlab.com/group/app"), Some("app")),
            ("https://github.com/octo/app.git", Some("https://github.com/octo/app"), Some("app")),
            (
                "https://org@dev.azure.com/org/proj/_git/app",
                Some("https://dev.azure.com/org/proj/_git/app"),
                Some("app"),
            ),
            ("https://ci.example.com/octo/app/", Some("https://ci.example.com/octo/app"), Some("app")),
            ("git@github.com:octo/app.git", None, None),
        ];
        for (url, web, name) in cases {
            let facts = repository_from_url(Some(url), None);
            assert_eq!(facts.url.as_deref(), *web, "{url}");
            assert_eq!(facts.name.as_deref(), *name, "{url}");
        }
    }

    #[test]
    fn clone_urls_of_known_hosts_become_web_pages() {
        let cases: &[(&str, Option<&str>)] = &[
            ("git@github.com:octo/app.git", Some("https://github.com/octo/app")),
            ("https://github.com/octo/app.git", Some("https://github.com/octo/app")),
            ("https://x-token-auth:secret@bitbucket.org/team/app.git", Some("https://bitbucket.org/team/app")),
            ("ssh://git@gitlab.com:22/group/sub/app.git", Some("https://gitlab.com/group/sub/app")),
            ("https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/app", None),
            ("https://bitbucket.example.com/scm/team/app.git", None),
        ];
        for (url, web) in cases {
            assert_eq!(repository_from_clone_url(Some(url)).url.as_deref(), *web, "{url}");
        }
    }
}
