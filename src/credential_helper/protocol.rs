//! The docker-credential-helpers protocol, as docker, podman, buildah, skopeo, buildkit and nerdctl speak it: the
//! verb is the one argument, the request is on standard input, the answer on standard output. `get` reads a server
//! URL and answers `{"ServerURL","Username","Secret"}`; a server the helper does not serve is answered with the
//! protocol's exact not-found text and exit status 1, which the callers recognise and treat as "no credentials".
//! Which servers are ECR is decided here, purely, from the URL.

use crate::host::{PUBLIC_HOST, RegistryHost};

/// docker/docker-credential-helpers `credentials.errCredentialsNotFoundMessage`: callers compare the helper's
/// standard output with exactly this text (`IsErrCredentialsNotFoundMessage`).
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// The user name every ECR token goes with.
pub const USERNAME: &str = "AWS";

/// The verbs of the protocol, and the set-up verbs ecr-ship adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Store,
    Erase,
    List,
    Version,
    /// ecr-ship's own: link the helper and name it in the engines' configs.
    Install,
    /// ecr-ship's own: undo `install`.
    Uninstall,
}

impl Verb {
    /// The verbs by name, for the message about an unknown one.
    pub const NAMES: &'static str = "get, store, erase, list, version, install, uninstall";

    pub fn parse(verb: &str) -> Option<Verb> {
        Some(match verb {
            "get" => Verb::Get,
            "store" => Verb::Store,
            "erase" => Verb::Erase,
            "list" => Verb::List,
            "version" => Verb::Version,
            "install" => Verb::Install,
            "uninstall" => Verb::Uninstall,
            _ => return None,
        })
    }
}

/// An ECR registry the helper serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// A private registry host of any partition; its token comes from its own region.
    Private(RegistryHost),
    /// `public.ecr.aws`, whose token comes from ECR Public in us-east-1.
    Public,
}

impl Served {
    /// The host the token is for, which is also the cache's key.
    pub fn host(&self) -> &str {
        match self {
            Served::Private(host) => host.host(),
            Served::Public => PUBLIC_HOST,
        }
    }
}

/// The registry a server URL names, when it is one the helper serves. Callers send a bare host
/// (`123456789012.dkr.ecr.eu-west-1.amazonaws.com`), a URL (`https://…/`, `https://…/v2/`), sometimes with the
/// default port; any of them names the same registry. Everything else (Docker Hub's `https://index.docker.io/v1/`,
/// other registries, an empty line) is not served.
pub fn served(server_url: &str) -> Option<Served> {
    let trimmed = server_url.trim();
    let without_scheme =
        trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://")).unwrap_or(trimmed);
    let authority = without_scheme.split('/').next().unwrap_or_default();
    let host = authority.strip_suffix(":443").unwrap_or(authority).to_ascii_lowercase();
    if host.is_empty() || host.contains(':') {
        return None;
    }
    if host == PUBLIC_HOST {
        return Some(Served::Public);
    }
    RegistryHost::parse(&host).ok().map(Served::Private)
}

/// The `get` answer.
pub fn get_answer(server_url: &str, secret: &str) -> String {
    serde_json::json!({ "ServerURL": server_url, "Username": USERNAME, "Secret": secret }).to_string()
}

/// The `list` answer: each served host and its user name.
pub fn list_answer<'a>(hosts: impl IntoIterator<Item = &'a str>) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        hosts.into_iter().map(|host| (host.to_string(), serde_json::Value::from(USERNAME))).collect();
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_to_what_is_served() {
        let private = |host: &str| Some(Served::Private(RegistryHost::parse(host).unwrap()));
        let cases: &[(&str, Option<Served>)] = &[
            ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", private("123456789012.dkr.ecr.eu-west-1.amazonaws.com")),
            (
                "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                private("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            ),
            (
                "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/",
                private("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            ),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com:443\n",
                private("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            ),
            ("123456789012.DKR.ECR.eu-west-1.amazonaws.com", private("123456789012.dkr.ecr.eu-west-1.amazonaws.com")),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                private("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"),
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
                private("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com"),
            ),
            ("123456789012.dkr-ecr.eu-west-1.on.aws", private("123456789012.dkr-ecr.eu-west-1.on.aws")),
            ("public.ecr.aws", Some(Served::Public)),
            ("https://public.ecr.aws/v2/", Some(Served::Public)),
            ("https://index.docker.io/v1/", None),
            ("ghcr.io", None),
            ("123456789012.dkr.ecr.eu-west-1.amazonaws.com:5000", None),
            ("12345.dkr.ecr.eu-west-1.amazonaws.com", None),
            ("evil.example/123456789012.dkr.ecr.eu-west-1.amazonaws.com", None),
            ("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example", None),
            ("", None),
        ];
        for (url, expected) in cases {
            assert_eq!(&served(url), expected, "{url:?}");
        }
    }

    #[test]
    fn answers_are_the_protocol_shapes() {
        let answer: serde_json::Value = serde_json::from_str(&get_answer("public.ecr.aws", "s3cr3t")).unwrap();
        assert_eq!(answer, serde_json::json!({"ServerURL": "public.ecr.aws", "Username": "AWS", "Secret": "s3cr3t"}));
        assert_eq!(list_answer([]), "{}");
        assert_eq!(list_answer(["public.ecr.aws"]), r#"{"public.ecr.aws":"AWS"}"#);
        assert_eq!(NOT_FOUND, "credentials not found in native keychain");
        for (name, verb) in [("get", Verb::Get), ("store", Verb::Store), ("erase", Verb::Erase), ("list", Verb::List)] {
            assert_eq!(Verb::parse(name), Some(verb));
        }
        assert_eq!(Verb::parse("GET"), None);
    }
}
