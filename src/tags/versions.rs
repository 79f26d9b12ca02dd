//! Version parsing for docker/metadata-action's `type=semver` and `type=pep440` lines: node-semver's strict
//! `valid` and the fields its patterns read (`{{version}}`, `{{major}}`, ...), and PEP 440's canonical pattern with
//! its normal form, as @renovate/pep440 gives them. Pure functions of a string.

use std::sync::LazyLock;

use regex_lite::Regex;

/// A version node-semver accepts in strict mode (an optional leading `v`), split into the fields patterns use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    pub raw: String,
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub prerelease: Vec<String>,
    pub build: Vec<String>,
}

#[allow(clippy::expect_used, reason = "a constant pattern, checked by the unit tests")]
static SEMVER: LazyLock<Regex> = LazyLock::new(|| {
    let number = r"0|[1-9]\d*";
    let pre_id = format!(r"(?:{number}|\d*[a-zA-Z-][a-zA-Z0-9-]*)");
    let build_id = r"[0-9A-Za-z-]+";
    Regex::new(&format!(
        r"^v?({number})\.({number})\.({number})(?:-({pre_id}(?:\.{pre_id})*))?(?:\+({build_id}(?:\.{build_id})*))?$"
    ))
    .expect("the semver pattern is valid")
});

impl SemVer {
    /// node-semver's `parse` in strict mode: `None` for anything `semver.valid` refuses.
    pub fn parse(text: &str) -> Option<SemVer> {
        let raw = text.trim();
        if raw.len() > 256 {
            return None;
        }
        let captures = SEMVER.captures(raw)?;
        let number = |i: usize| captures.get(i).and_then(|m| m.as_str().parse::<u64>().ok());
        let list =
            |i: usize| captures.get(i).map_or_else(Vec::new, |m| m.as_str().split('.').map(str::to_string).collect());
        Some(SemVer {
            raw: raw.to_string(),
            major: number(1)?,
            minor: number(2)?,
            patch: number(3)?,
            prerelease: list(4),
            build: list(5),
        })
    }

    /// `MAJOR.MINOR.PATCH[-PRERELEASE]`, without build metadata, as node-semver's `version`.
    pub fn version(&self) -> String {
        let mut out = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.prerelease.is_empty() {
            out.push('-');
            out.push_str(&self.prerelease.join("."));
        }
        out
    }

    /// A field a pattern may name, rendered as Handlebars renders it (arrays join with commas).
    pub fn field(&self, name: &str) -> Option<String> {
        Some(match name {
            "raw" => self.raw.clone(),
            "version" => self.version(),
            "major" => self.major.to_string(),
            "minor" => self.minor.to_string(),
            "patch" => self.patch.to_string(),
            "prerelease" => self.prerelease.join(","),
            "build" => self.build.join(","),
            "loose" => "true".to_string(),
            _ => return None,
        })
    }
}

/// A PEP 440 version, parsed by the specification's canonical pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(&'static str, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Option<String>,
}

#[allow(clippy::expect_used, reason = "a constant pattern, checked by the unit tests")]
static PEP440: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?P<pre>[-_.]?(?P<pre_l>alpha|beta|preview|pre|rc|a|b|c)[-_.]?(?P<pre_n>[0-9]+)?)?
        (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
        (?P<dev>[-_.]?dev[-_.]?(?P<dev_n>[0-9]+)?)?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .expect("the PEP 440 pattern is valid")
});

impl Pep440 {
    pub fn parse(text: &str) -> Option<Pep440> {
        let captures = PEP440.captures(text)?;
        let number = |name: &str| captures.name(name).map(|m| m.as_str().parse::<u64>().ok());
        let release =
            captures.name("release")?.as_str().split('.').map(|n| n.parse::<u64>().ok()).collect::<Option<Vec<_>>>()?;
        let pre = match captures.name("pre_l") {
            Some(label) => {
                let label = match label.as_str().to_ascii_lowercase().as_str() {
                    "a" | "alpha" => "a",
                    "b" | "beta" => "b",
                    _ => "rc",
                };
                Some((label, number("pre_n").unwrap_or(Some(0))?))
            }
            None => None,
        };
        let post = match captures.name("post") {
            Some(_) => Some(number("post_n1").or_else(|| number("post_n2")).unwrap_or(Some(0))?),
            None => None,
        };
        let dev = match captures.name("dev") {
            Some(_) => Some(number("dev_n").unwrap_or(Some(0))?),
            None => None,
        };
        Some(Pep440 {
            epoch: number("epoch").unwrap_or(Some(0))?,
            release,
            pre,
            post,
            dev,
            local: captures.name("local").map(|m| m.as_str().to_ascii_lowercase().replace(['-', '_'], ".")),
        })
    }

    /// The normal form (`pep440.clean`): `1.0dev4` gives `1.0.dev4`, `1.1beta2` gives `1.1b2`.
    pub fn normalized(&self) -> String {
        let mut out = String::new();
        if self.epoch != 0 {
            out.push_str(&format!("{}!", self.epoch));
        }
        out.push_str(&self.release.iter().map(u64::to_string).collect::<Vec<_>>().join("."));
        if let Some((label, n)) = self.pre {
            out.push_str(&format!("{label}{n}"));
        }
        if let Some(n) = self.post {
            out.push_str(&format!(".post{n}"));
        }
        if let Some(n) = self.dev {
            out.push_str(&format!(".dev{n}"));
        }
        if let Some(local) = &self.local {
            out.push_str(&format!("+{local}"));
        }
        out
    }

    /// A pre-, post- or development release: these get only their full version, never `major.minor`.
    pub fn is_special(&self) -> bool {
        self.pre.is_some() || self.post.is_some() || self.dev.is_some()
    }

    pub fn major(&self) -> u64 {
        self.release[0]
    }

    pub fn minor(&self) -> u64 {
        self.release.get(1).copied().unwrap_or(0)
    }

    pub fn patch(&self) -> u64 {
        self.release.get(2).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_accepts_what_node_semver_valid_accepts() {
        let cases = [
            ("v1.2.3", Some("1.2.3")),
            ("1.2.3-rc.1+build.5", Some("1.2.3-rc.1")),
            ("v2.0.8-beta.67", Some("2.0.8-beta.67")),
            ("1.2", None),
            ("01.2.3", None),
            ("=1.2.3", None),
            ("release1", None),
            ("20200110-RC2", None),
        ];
        for (text, version) in cases {
            assert_eq!(SemVer::parse(text).map(|v| v.version()), version.map(str::to_string), "{text}");
        }
        let parsed = SemVer::parse("v1.2.3-rc.1").unwrap();
        assert_eq!(parsed.field("raw").as_deref(), Some("v1.2.3-rc.1"));
        assert_eq!(parsed.field("prerelease").as_deref(), Some("rc,1"));
    }

    #[test]
    fn pep440_normalizes_like_renovate() {
        let cases = [
            ("1.2.3", Some("1.2.3"), false),
            ("v1.2.3rc2", Some("1.2.3rc2"), true),
            ("1.0dev4", Some("1.0.dev4"), true),
            ("1.1beta2", Some("1.1b2"), true),
            ("1.2post1", Some("1.2.post1"), true),
            ("1.2", Some("1.2"), false),
            ("1!2.0-1", Some("1!2.0.post1"), true),
            ("sometag", None, false),
            ("20200110-RC2", Some("20200110rc2"), true),
        ];
        for (text, normal, special) in cases {
            let parsed = Pep440::parse(text);
            assert_eq!(parsed.as_ref().map(Pep440::normalized), normal.map(str::to_string), "{text}");
            if let Some(parsed) = parsed {
                assert_eq!(parsed.is_special(), special, "{text}");
            }
        }
        let v = Pep440::parse("1.2").unwrap();
        assert_eq!((v.major(), v.minor(), v.patch()), (1, 2, 0));
    }
}
