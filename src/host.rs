//! Amazon ECR registry hosts, regions and AWS partitions.
//!
//! Owns the mapping between a registry host (`<account>.dkr.ecr.<region>.amazonaws.com` and every FIPS, dual-stack,
//! China, GovCloud, EU sovereign and ISO form) and the account, region and partition it names, in both directions.
//! The partition decides ARN prefixes, the STS audience for web identity, and the DNS suffix of built hosts.
//! Look-alike hosts (`…amazonaws.com.example.com`) are rejected: parsing is anchored at both ends.
//!
//! It also owns the other registry kind, Amazon ECR Public (`public.ecr.aws/<alias>`: one host for every account,
//! the alias naming the registry), the [`RegistryTarget`] a `--registry` value parses into, and the
//! [`ImageRegistry`] a command addresses images with once the registry is fully known.

use std::fmt;

use crate::bail_input;

/// An AWS partition: a set of regions sharing a DNS suffix and an ARN prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
    AwsIso,
    AwsIsoB,
    AwsIsoE,
    AwsIsoF,
    AwsEusc,
}

impl Partition {
    /// The partition a region belongs to, from its prefix (dash included, so `us-iso-` never matches `us-isob-`).
    pub fn of_region(region: &str) -> Partition {
        const PREFIXES: [(&str, Partition); 7] = [
            ("cn-", Partition::AwsCn),
            ("us-gov-", Partition::AwsUsGov),
            ("us-iso-", Partition::AwsIso),
            ("us-isob-", Partition::AwsIsoB),
            ("eu-isoe-", Partition::AwsIsoE),
            ("us-isof-", Partition::AwsIsoF),
            ("eusc-", Partition::AwsEusc),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| region.starts_with(prefix))
            .map_or(Partition::Aws, |(_, partition)| *partition)
    }

    /// The name used in ARNs: `arn:<name>:…`.
    pub fn arn_name(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
            Partition::AwsIso => "aws-iso",
            Partition::AwsIsoB => "aws-iso-b",
            Partition::AwsIsoE => "aws-iso-e",
            Partition::AwsIsoF => "aws-iso-f",
            Partition::AwsEusc => "aws-eusc",
        }
    }

    /// The partition named in an ARN, if it is one we know.
    pub fn from_arn_name(name: &str) -> Option<Partition> {
        ALL_PARTITIONS.into_iter().find(|p| p.arn_name() == name)
    }

    /// DNS suffix of the partition's IPv4 endpoints.
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::AwsIso => "c2s.ic.gov",
            Partition::AwsIsoB => "sc2s.sgov.gov",
            Partition::AwsIsoE => "cloud.adc-e.uk",
            Partition::AwsIsoF => "csp.hci.ic.gov",
            Partition::AwsEusc => "amazonaws.eu",
        }
    }

    /// The audience a web-identity token must carry for this partition's STS.
    pub fn sts_audience(self) -> &'static str {
        match self {
            Partition::AwsCn => "sts.amazonaws.com.cn",
            _ => "sts.amazonaws.com",
        }
    }
}

const ALL_PARTITIONS: [Partition; 8] = [
    Partition::Aws,
    Partition::AwsCn,
    Partition::AwsUsGov,
    Partition::AwsIso,
    Partition::AwsIsoB,
    Partition::AwsIsoE,
    Partition::AwsIsoF,
    Partition::AwsEusc,
];

/// Checks the shape of a region name (`eu-west-1`, `us-gov-east-1`, `us-isob-east-1`, `eusc-de-east-1`).
pub fn validate_region(region: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = region.split('-').collect();
    let shaped = parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if !shaped {
        bail_input!("unknown region '{region}': expected an AWS region name such as 'us-east-1' or 'eu-central-1'");
    }
    Ok(())
}

/// Which network stack a registry host is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    Ipv4,
    DualStack,
}

/// A private ECR registry host, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryHost {
    pub account: String,
    pub region: String,
    pub fips: bool,
    pub stack: Stack,
    pub partition: Partition,
    host: String,
}

impl RegistryHost {
    /// Parses a registry host as found in an image reference or in GetAuthorizationToken's `proxyEndpoint`
    /// (a leading `https://` and a trailing `/` are accepted and dropped).
    pub fn parse(input: &str) -> anyhow::Result<RegistryHost> {
        let host = input.strip_prefix("https://").unwrap_or(input).trim_end_matches('/');
        match parse_private_host(host) {
            Some(parsed) => Ok(parsed),
            None => bail_input!(
                "'{input}' is not an Amazon ECR registry host: expected <12-digit account>.dkr.ecr.<region>.amazonaws.com \
                 or its FIPS, dual-stack, China, GovCloud, EU sovereign or ISO form, or public.ecr.aws/ALIAS for ECR \
                 Public"
            ),
        }
    }

    /// The IPv4 host of `account` in `region`, in the region's partition.
    pub fn for_account(account: &str, region: &str, fips: bool, stack: Stack) -> anyhow::Result<RegistryHost> {
        validate_account(account)?;
        validate_region(region)?;
        let partition = Partition::of_region(region);
        let fips_marker = if fips { "-fips" } else { "" };
        let host = match (stack, partition) {
            (Stack::Ipv4, _) => format!("{account}.dkr.ecr{fips_marker}.{region}.{}", partition.dns_suffix()),
            (Stack::DualStack, Partition::AwsCn) => {
                format!("{account}.dkr-ecr{fips_marker}.{region}.on.amazonwebservices.com.cn")
            }
            (Stack::DualStack, _) => format!("{account}.dkr-ecr{fips_marker}.{region}.on.aws"),
        };
        Ok(RegistryHost { account: account.into(), region: region.into(), fips, stack, partition, host })
    }

    /// The host name, without scheme.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for RegistryHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)
    }
}

/// The host of Amazon ECR Public: one for every account and region.
pub const PUBLIC_HOST: &str = "public.ecr.aws";
/// The one region the ECR Public API is in, whatever region the job runs in.
pub const PUBLIC_API_REGION: &str = "us-east-1";

/// An Amazon ECR Public registry: `public.ecr.aws/<alias>`, or bare `public.ecr.aws`, whose alias is the caller's
/// default one, looked up with DescribeRegistries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicRegistry {
    pub alias: Option<String>,
}

impl PublicRegistry {
    /// `Ok(None)` when `input` is not on `public.ecr.aws` at all; bad input when it is but the alias is invalid.
    pub fn parse(input: &str) -> anyhow::Result<Option<PublicRegistry>> {
        let trimmed = input.trim().strip_prefix("https://").unwrap_or(input.trim()).trim_end_matches('/');
        let (host, alias) = match trimmed.split_once('/') {
            Some((host, alias)) => (host, Some(alias)),
            None => (trimmed, None),
        };
        if !host.eq_ignore_ascii_case(PUBLIC_HOST) {
            return Ok(None);
        }
        if let Some(alias) = alias {
            crate::names::validate_public_alias(alias)
                .map_err(|e| crate::error::bad_input(format!("--registry '{input}': {e}")))?;
        }
        Ok(Some(PublicRegistry { alias: alias.map(String::from) }))
    }
}

impl fmt::Display for PublicRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.alias {
            Some(alias) => write!(f, "{PUBLIC_HOST}/{alias}"),
            None => f.write_str(PUBLIC_HOST),
        }
    }
}

/// What a `--registry` value names: a private ECR registry host, or an ECR Public registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryTarget {
    Private(RegistryHost),
    Public(PublicRegistry),
}

impl RegistryTarget {
    pub fn parse(input: &str) -> anyhow::Result<RegistryTarget> {
        match PublicRegistry::parse(input)? {
            Some(public) => Ok(RegistryTarget::Public(public)),
            None => RegistryHost::parse(input).map(RegistryTarget::Private),
        }
    }
}

/// Where a command's images live once the registry is fully known: the host the engine logs in to and the client
/// connects to, and the namespace every repository path on it starts with (ECR Public's alias; none for private
/// ECR, whose host names the registry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRegistry {
    host: String,
    namespace: Option<String>,
}

impl ImageRegistry {
    pub fn private(host: &RegistryHost) -> ImageRegistry {
        ImageRegistry { host: host.host().to_string(), namespace: None }
    }

    /// `alias` comes from the user (checked by [`PublicRegistry::parse`]) or from DescribeRegistries.
    pub fn public(alias: &str) -> ImageRegistry {
        ImageRegistry { host: PUBLIC_HOST.to_string(), namespace: Some(alias.to_string()) }
    }

    /// The host to log in to and connect to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The repository's path on the registry host: `alias/app` on ECR Public, `team/app` on private ECR.
    pub fn repository_path(&self, repository: &str) -> String {
        match &self.namespace {
            Some(alias) => format!("{alias}/{repository}"),
            None => repository.to_string(),
        }
    }

    /// The registry as image references begin: `public.ecr.aws/alias`, or the private host.
    pub fn name(&self) -> String {
        match &self.namespace {
            Some(alias) => format!("{}/{alias}", self.host),
            None => self.host.clone(),
        }
    }

    /// `registry/repository`, the name an image is pushed and pulled as.
    pub fn image_name(&self, repository: &str) -> String {
        format!("{}/{}", self.host, self.repository_path(repository))
    }
}

/// Checks a 12-digit AWS account id, kept as a string so leading zeros survive.
pub fn validate_account(account: &str) -> anyhow::Result<()> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        bail_input!(
            "invalid AWS account id '{account}': expected exactly 12 digits (quote it in YAML to keep leading zeros)"
        );
    }
    Ok(())
}

/// `^(\d{12})\.dkr[.-]ecr(-fips)?\.(<region>)\.(<suffix>)$`, the credential helper's grammar, without a regex engine.
fn parse_private_host(host: &str) -> Option<RegistryHost> {
    let (account, rest) = host.split_once('.')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (service, rest) = rest.split_once('.')?;
    let (dual_dash, fips) = match service {
        "dkr" => {
            let (ecr, rest2) = rest.split_once('.')?;
            let fips = match ecr {
                "ecr" => false,
                "ecr-fips" => true,
                _ => return None,
            };
            return finish(account, rest2, fips, false, host);
        }
        "dkr-ecr" => (true, false),
        "dkr-ecr-fips" => (true, true),
        _ => return None,
    };
    finish(account, rest, fips, dual_dash, host)
}

fn finish(account: &str, rest: &str, fips: bool, dashed: bool, host: &str) -> Option<RegistryHost> {
    let (region, suffix) = rest.split_once('.')?;
    let region_ok = region.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !region_ok {
        return None;
    }
    let stack = match suffix {
        "on.aws" | "on.amazonwebservices.com.cn" => Stack::DualStack,
        "amazonaws.com" | "amazonaws.com.cn" | "amazonaws.eu" | "sc2s.sgov.gov" | "c2s.ic.gov" | "cloud.adc-e.uk"
        | "csp.hci.ic.gov" => Stack::Ipv4,
        _ => return None,
    };
    // `dkr-ecr` is the dual-stack spelling; China dual-stack also accepts the dotted `dkr.ecr` form.
    if dashed && stack != Stack::DualStack {
        return None;
    }
    let partition = Partition::of_region(region);
    let suffix_partition_ok = match suffix {
        "amazonaws.com.cn" | "on.amazonwebservices.com.cn" => partition == Partition::AwsCn,
        "on.aws" => partition != Partition::AwsCn,
        other => partition.dns_suffix() == other,
    };
    if !suffix_partition_ok {
        return None;
    }
    Some(RegistryHost { account: account.into(), region: region.into(), fips, stack, partition, host: host.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_host_form() {
        let cases = [
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "us-east-1", false, Stack::Ipv4, Partition::Aws),
            ("123456789012.dkr.ecr-fips.us-west-2.amazonaws.com", "us-west-2", true, Stack::Ipv4, Partition::Aws),
            ("123456789012.dkr-ecr.eu-west-1.on.aws", "eu-west-1", false, Stack::DualStack, Partition::Aws),
            ("123456789012.dkr-ecr-fips.us-east-1.on.aws", "us-east-1", true, Stack::DualStack, Partition::Aws),
            ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1", false, Stack::Ipv4, Partition::AwsCn),
            (
                "123456789012.dkr.ecr.cn-northwest-1.on.amazonwebservices.com.cn",
                "cn-northwest-1",
                false,
                Stack::DualStack,
                Partition::AwsCn,
            ),
            (
                "123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
                "cn-north-1",
                false,
                Stack::DualStack,
                Partition::AwsCn,
            ),
            (
                "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com",
                "us-gov-west-1",
                false,
                Stack::Ipv4,
                Partition::AwsUsGov,
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com",
                "us-gov-east-1",
                true,
                Stack::Ipv4,
                Partition::AwsUsGov,
            ),
            (
                "123456789012.dkr-ecr.us-gov-east-1.on.aws",
                "us-gov-east-1",
                false,
                Stack::DualStack,
                Partition::AwsUsGov,
            ),
            (
                "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
                "eusc-de-east-1",
                false,
                Stack::Ipv4,
                Partition::AwsEusc,
            ),
            ("123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", "us-iso-east-1", false, Stack::Ipv4, Partition::AwsIso),
            (
                "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
                "us-isob-east-1",
                false,
                Stack::Ipv4,
                Partition::AwsIsoB,
            ),
            (
                "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
                "eu-isoe-west-1",
                false,
                Stack::Ipv4,
                Partition::AwsIsoE,
            ),
            (
                "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
                "us-isof-south-1",
                false,
                Stack::Ipv4,
                Partition::AwsIsoF,
            ),
            ("https://012345678901.dkr.ecr.us-east-1.amazonaws.com/", "us-east-1", false, Stack::Ipv4, Partition::Aws),
        ];
        for (input, region, fips, stack, partition) in cases {
            let parsed = RegistryHost::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(
                (parsed.region.as_str(), parsed.fips, parsed.stack, parsed.partition),
                (region, fips, stack, partition),
                "{input}"
            );
            assert!(parsed.account.len() == 12 && input.contains(&parsed.account));
            assert!(!parsed.host().starts_with("https://"));
        }
    }

    #[test]
    fn rejects_look_alikes() {
        for input in [
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.fake.example.com",
            "evil.com/123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            "1234567890123.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.org",
            "123456789012.dkr-ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.on.aws.com.cn",
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.cn",
            "public.ecr.aws",
            "ghcr.io",
            "",
        ] {
            let error = RegistryHost::parse(input).expect_err(input);
            assert_eq!(crate::error::exit_code(&error), 2, "{input}");
        }
    }

    #[test]
    fn public_registries() {
        let parse = |input: &str| RegistryTarget::parse(input);
        assert_eq!(
            parse("public.ecr.aws/ecr-ship-test").unwrap(),
            RegistryTarget::Public(PublicRegistry { alias: Some("ecr-ship-test".into()) })
        );
        for bare in ["public.ecr.aws", "https://public.ecr.aws/", " public.ecr.aws "] {
            assert_eq!(parse(bare).unwrap(), RegistryTarget::Public(PublicRegistry { alias: None }), "{bare}");
        }
        for bad in ["public.ecr.aws/Alias", "public.ecr.aws/a", "public.ecr.aws/a/b", "public.ecr.aws/-x"] {
            let error = parse(bad).expect_err(bad);
            assert_eq!(crate::error::exit_code(&error), 2, "{bad}");
            assert!(format!("{error:#}").contains(bad), "{error:#}");
        }
        for not_public in ["public.ecr.aws.example.com/x", "gallery.ecr.aws/x", "ecr.aws"] {
            assert!(PublicRegistry::parse(not_public).unwrap().is_none(), "{not_public}");
            assert_eq!(crate::error::exit_code(&parse(not_public).unwrap_err()), 2);
        }
        assert!(matches!(parse("123456789012.dkr.ecr.us-east-1.amazonaws.com"), Ok(RegistryTarget::Private(_))));

        let public = ImageRegistry::public("ecr-ship-test");
        assert_eq!(public.image_name("tools/app"), "public.ecr.aws/ecr-ship-test/tools/app");
        assert_eq!((public.host(), public.name().as_str()), ("public.ecr.aws", "public.ecr.aws/ecr-ship-test"));
        let private =
            ImageRegistry::private(&RegistryHost::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com").unwrap());
        assert_eq!(private.image_name("team/app"), "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app");
        assert_eq!(private.repository_path("team/app"), "team/app");
    }

    #[test]
    fn builds_hosts_that_parse_back() {
        for region in ["us-east-1", "cn-north-1", "us-gov-west-1", "us-iso-east-1", "us-isob-east-1", "eusc-de-east-1"]
        {
            for stack in [Stack::Ipv4, Stack::DualStack] {
                let built = RegistryHost::for_account("123456789012", region, false, stack).unwrap();
                let parsed = RegistryHost::parse(built.host()).unwrap();
                assert_eq!(parsed, built);
            }
        }
    }

    #[test]
    fn partitions_by_region_prefix() {
        assert_eq!(Partition::of_region("us-iso-east-1").arn_name(), "aws-iso");
        assert_eq!(Partition::of_region("us-isob-east-1").arn_name(), "aws-iso-b");
        assert_eq!(Partition::of_region("us-isof-south-1").arn_name(), "aws-iso-f");
        assert_eq!(Partition::of_region("cn-north-1").sts_audience(), "sts.amazonaws.com.cn");
        assert_eq!(Partition::of_region("eu-west-1").sts_audience(), "sts.amazonaws.com");
        assert_eq!(Partition::from_arn_name("aws-us-gov"), Some(Partition::AwsUsGov));
        assert!(validate_region("us-east-1").is_ok());
        for bad in ["useast1", "US-EAST-1", "us-east-", "mars", ""] {
            assert!(validate_region(bad).is_err(), "{bad}");
        }
    }
}
