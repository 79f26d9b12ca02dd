//! Least-privilege IAM documents: the identity policy a pushing role needs, and the trust policy that lets a
//! GitHub Actions workflow assume that role through OIDC.
//!
//! These are what every AccessDenied message points to (`ecr-ship policy --repository <name>`), so the action
//! lists here must match the calls the rest of `aws` and the push code make, and nothing more.

use serde_json::{Value, json};

use crate::bail_input;
use crate::host::Partition;

/// Login: GetAuthorizationToken has no resource-level permissions, so it is granted on `*`.
pub const LOGIN_ACTIONS: [&str; 1] = ["ecr:GetAuthorizationToken"];

/// Push, retag, and the idempotency and mutability checks, scoped to the repository.
pub const PUSH_ACTIONS: [&str; 8] = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "ecr:DescribeRepositories",
];

/// The vulnerability gate (`ecr-ship scan`, `push --scan-fail-on`): reading an image's scan findings and starting a
/// basic scan when it has none. Granted always, beside the push actions: both are scoped to the repository, and a
/// role made once from `ecr-ship policy` then also serves a job that turns the gate on later.
pub const SCAN_ACTIONS: [&str; 2] = ["ecr:DescribeImageScanFindings", "ecr:StartImageScan"];

/// Creating the repository and applying its settings (`--create-repository`, `update_existing`).
pub const CREATE_ACTIONS: [&str; 6] = [
    "ecr:CreateRepository",
    "ecr:PutLifecyclePolicy",
    "ecr:SetRepositoryPolicy",
    "ecr:PutImageTagMutability",
    "ecr:PutImageScanningConfiguration",
    "ecr:TagResource",
];

/// `ecr-ship prune`: listing the images (DescribeImages pages; ListImages for tools that list by id), reading
/// their manifests, and deleting, scoped to the repository.
pub const PRUNE_ACTIONS: [&str; 4] =
    ["ecr:ListImages", "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:BatchDeleteImage"];

/// The statement `policy --prune` adds to the push policy: [`PRUNE_ACTIONS`] on the repository's ARN alone.
pub fn prune_statement(partition: Partition, account: &str, region: &str, repository: &str) -> Value {
    let repository_arn = format!("arn:{}:ecr:{region}:{account}:repository/{repository}", partition.arn_name());
    json!({"Sid": "EcrPrune", "Effect": "Allow", "Action": PRUNE_ACTIONS, "Resource": repository_arn})
}

/// ECR Public login: its GetAuthorizationToken, and the STS bearer token the service obtains for the caller (the
/// ECR Public user guide, registry authentication). Neither has resource-level permissions.
pub const PUBLIC_LOGIN_ACTIONS: [&str; 2] = ["ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"];

/// Reading the caller's default registry alias (bare `--registry public.ecr.aws`); registry-wide, so on `*`.
pub const PUBLIC_ALIAS_ACTIONS: [&str; 1] = ["ecr-public:DescribeRegistries"];

/// Pushing to an ECR Public repository (through an engine or natively), PutImage for the other tags, the
/// idempotency check (DescribeImageTags), and the storage summary's listing (DescribeImages, `--storage-summary
/// true`), scoped to the repository.
pub const PUBLIC_PUSH_ACTIONS: [&str; 8] = [
    "ecr-public:BatchCheckLayerAvailability",
    "ecr-public:InitiateLayerUpload",
    "ecr-public:UploadLayerPart",
    "ecr-public:CompleteLayerUpload",
    "ecr-public:PutImage",
    "ecr-public:DescribeImageTags",
    "ecr-public:DescribeRepositories",
    "ecr-public:DescribeImages",
];

/// Creating a public repository with its catalog data and tags (`--create-repository`), and updating the
/// catalog data (`--update-repository-settings`).
pub const PUBLIC_CREATE_ACTIONS: [&str; 3] =
    ["ecr-public:CreateRepository", "ecr-public:PutRepositoryCatalogData", "ecr-public:TagResource"];

/// The identity policy for pushing to the ECR Public repository `repository` of `account` (ARNs of ECR Public
/// have no region, and ECR Public is only in the aws partition). `with_alias_lookup` adds DescribeRegistries, for
/// a registry named without its alias.
pub fn public_push_policy(account: &str, repository: &str, create: bool, with_alias_lookup: bool) -> Value {
    let repository_arn = format!("arn:aws:ecr-public::{account}:repository/{repository}");
    let mut login: Vec<&str> = PUBLIC_LOGIN_ACTIONS.to_vec();
    if with_alias_lookup {
        login.extend(PUBLIC_ALIAS_ACTIONS);
    }
    let mut statements = vec![
        json!({"Sid": "EcrPublicLogin", "Effect": "Allow", "Action": login, "Resource": "*"}),
        json!({"Sid": "EcrPublicPush", "Effect": "Allow", "Action": PUBLIC_PUSH_ACTIONS, "Resource": repository_arn}),
    ];
    if create {
        statements.push(json!({
            "Sid": "EcrPublicCreateRepository", "Effect": "Allow", "Action": PUBLIC_CREATE_ACTIONS,
            "Resource": repository_arn
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Host of GitHub's OIDC issuer, which is also the name of the IAM OIDC provider and the condition key prefix.
pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";

/// The identity policy for pushing to `repository` in `account`/`region` (and creating it when `create`).
pub fn push_policy(partition: Partition, account: &str, region: &str, repository: &str, create: bool) -> Value {
    let repository_arn = format!("arn:{}:ecr:{region}:{account}:repository/{repository}", partition.arn_name());
    let push: Vec<&str> = PUSH_ACTIONS.iter().chain(SCAN_ACTIONS.iter()).copied().collect();
    let mut statements = vec![
        json!({"Sid": "EcrLogin", "Effect": "Allow", "Action": LOGIN_ACTIONS, "Resource": "*"}),
        json!({"Sid": "EcrPush", "Effect": "Allow", "Action": push, "Resource": repository_arn}),
    ];
    if create {
        statements.push(json!({
            "Sid": "EcrCreateRepository", "Effect": "Allow", "Action": CREATE_ACTIONS, "Resource": repository_arn
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Which jobs of a repository the trust policy admits. GitHub's `sub` claim is `repo:OWNER/NAME:environment:NAME`
/// for a job that names an environment, else `repo:OWNER/NAME:pull_request` for a pull request event, else
/// `repo:OWNER/NAME:ref:REF` (docs/github-oidc.md, from GitHub's OIDC reference).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GithubSubject {
    /// Jobs on this ref (`refs/heads/main`, `refs/tags/v*`; `*` and `?` match as IAM's StringLike does).
    Ref(String),
    /// Jobs that run in this deployment environment (its protection rules then guard the role).
    Environment(String),
    /// Jobs of pull request events (`pull_request`, `pull_request_target`) that name no environment.
    PullRequest,
    /// Every job of the repository: any branch, tag, environment and pull request. Only when asked for.
    AnyRef,
}

impl GithubSubject {
    /// Checks a ref or environment name before it goes into a policy, where a stray `:` would change its meaning.
    pub fn validate(&self) -> anyhow::Result<()> {
        match self {
            GithubSubject::Ref(reference) => {
                let chars_ok = reference.chars().all(|c| c.is_ascii_alphanumeric() || "/._-*?+@".contains(c));
                let rest = reference.strip_prefix("refs/heads/").or_else(|| reference.strip_prefix("refs/tags/"));
                if rest.is_none_or(str::is_empty) || !chars_ok {
                    bail_input!(
                        "invalid --github-ref '{reference}': expected refs/heads/BRANCH or refs/tags/TAG (letters, \
                         digits, '/', '.', '_', '-', '+', '@', and '*' or '?' as IAM wildcards)"
                    );
                }
            }
            GithubSubject::Environment(name) => {
                let ok = (1..=255).contains(&name.len())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || " ._-".contains(c));
                if !ok {
                    bail_input!(
                        "invalid --github-environment '{name}': expected a GitHub environment name (letters, \
                         digits, spaces, '.', '_', '-')"
                    );
                }
            }
            GithubSubject::PullRequest | GithubSubject::AnyRef => {}
        }
        Ok(())
    }

    /// The `sub` value (or StringLike pattern) admitting this subject's jobs of `github_repo`.
    pub fn pattern(&self, github_repo: &str) -> String {
        match self {
            GithubSubject::Ref(reference) => format!("repo:{github_repo}:ref:{reference}"),
            GithubSubject::Environment(name) => format!("repo:{github_repo}:environment:{name}"),
            GithubSubject::PullRequest => format!("repo:{github_repo}:pull_request"),
            GithubSubject::AnyRef => format!("repo:{github_repo}:*"),
        }
    }
}

/// The trust policy letting the jobs of `github_repo` (`OWNER/NAME`) that `subjects` name assume the role via
/// GitHub OIDC. Exact `sub` values are matched with StringEquals; when any is a pattern (`*`, `?`) all go under
/// StringLike, since two operators on the same key would both have to hold. One value is a string, several a list
/// (IAM admits a token matching any of them).
pub fn github_trust_policy(
    partition: Partition,
    account: &str,
    github_repo: &str,
    subjects: &[GithubSubject],
) -> Value {
    let provider = format!("arn:{}:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}", partition.arn_name());
    let mut subs: Vec<String> = subjects.iter().map(|subject| subject.pattern(github_repo)).collect();
    subs.sort();
    subs.dedup();
    let audience = (format!("{GITHUB_OIDC_HOST}:aud"), json!(partition.sts_audience()));
    let subject_key = format!("{GITHUB_OIDC_HOST}:sub");
    let sub_value = if subs.len() == 1 { json!(subs[0]) } else { json!(subs) };
    let condition = if subs.iter().any(|sub| sub.contains(['*', '?'])) {
        json!({"StringEquals": {audience.0: audience.1}, "StringLike": {subject_key: sub_value}})
    } else {
        json!({"StringEquals": {audience.0: audience.1, subject_key: sub_value}})
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition
        }]
    })
}

/// Checks `OWNER/NAME` before it goes into a trust policy, where a stray `*` or `:` would widen who may assume.
pub fn validate_github_repo(github_repo: &str) -> anyhow::Result<()> {
    // GitHub's immutable subject form appends `@ID` to both names (docs/github-oidc.md).
    let without_id = |part: &str| match part.split_once('@') {
        Some((name, id)) if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) => Some(name.to_string()),
        Some(_) => None,
        None => Some(part.to_string()),
    };
    let ok = github_repo.split_once('/').and_then(|(o, n)| Some((without_id(o)?, without_id(n)?))).is_some_and(
        |(owner, name)| {
            let owner_ok =
                (1..=39).contains(&owner.len()) && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            let name_ok = (1..=100).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            owner_ok && name_ok
        },
    );
    if !ok {
        bail_input!(
            "invalid GitHub repository '{github_repo}': expected OWNER/NAME, for example octo-org/octo-repo \
             (letters, digits, '-', and '_' or '.' in the name), or OWNER@ID/NAME@ID (GitHub's immutable subject)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_policy_per_partition() {
        for (partition, region, prefix) in [
            (Partition::Aws, "us-east-1", "arn:aws:"),
            (Partition::AwsCn, "cn-north-1", "arn:aws-cn:"),
            (Partition::AwsUsGov, "us-gov-west-1", "arn:aws-us-gov:"),
        ] {
            let policy = push_policy(partition, "123456789012", region, "team/app", false);
            let statements = policy["Statement"].as_array().unwrap();
            assert_eq!(statements.len(), 2);
            assert_eq!(statements[0]["Action"], json!(["ecr:GetAuthorizationToken"]));
            assert_eq!(statements[0]["Resource"], "*");
            let arn = format!("{prefix}ecr:{region}:123456789012:repository/team/app");
            assert_eq!(statements[1]["Resource"], arn);
            let actions: Vec<&str> =
                statements[1]["Action"].as_array().unwrap().iter().filter_map(|a| a.as_str()).collect();
            assert!(actions.contains(&"ecr:PutImage") && actions.contains(&"ecr:DescribeRepositories"));
            assert!(SCAN_ACTIONS.iter().all(|a| actions.contains(a)), "the gate's actions are always granted");
            assert!(!actions.contains(&"ecr:CreateRepository"));

            let with_create = push_policy(partition, "123456789012", region, "team/app", true);
            let create = &with_create["Statement"][2];
            assert_eq!(create["Resource"], arn);
            assert!(create["Action"].as_array().unwrap().contains(&json!("ecr:CreateRepository")));
            assert!(create["Action"].as_array().unwrap().contains(&json!("ecr:TagResource")));
        }
    }

    #[test]
    fn public_push_policy_has_no_region_and_only_ecr_public_actions() {
        let policy = public_push_policy("123456789012", "tools/app", true, false);
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements[0]["Action"], json!(PUBLIC_LOGIN_ACTIONS));
        assert_eq!(statements[0]["Resource"], "*");
        for statement in &statements[1..] {
            assert_eq!(statement["Resource"], "arn:aws:ecr-public::123456789012:repository/tools/app");
        }
        let all: Vec<&str> =
            statements.iter().flat_map(|s| s["Action"].as_array().unwrap()).filter_map(|a| a.as_str()).collect();
        assert!(all.iter().all(|a| a.starts_with("ecr-public:") || *a == "sts:GetServiceBearerToken"), "{all:?}");
        assert!(!all.contains(&"ecr-public:DescribeRegistries"));
        let bare = public_push_policy("*", "app", false, true);
        assert_eq!(bare["Statement"].as_array().unwrap().len(), 2);
        assert!(bare["Statement"][0]["Action"].as_array().unwrap().contains(&json!("ecr-public:DescribeRegistries")));
    }

    #[test]
    fn trust_policy_per_partition() {
        let policy =
            github_trust_policy(Partition::AwsCn, "123456789012", "octo-org/octo-repo", &[GithubSubject::AnyRef]);
        let statement = &policy["Statement"][0];
        assert_eq!(
            statement["Principal"]["Federated"],
            "arn:aws-cn:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        );
        assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(
            statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"],
            "sts.amazonaws.com.cn"
        );
        assert_eq!(
            statement["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"],
            "repo:octo-org/octo-repo:*"
        );
        let aws = github_trust_policy(Partition::Aws, "123456789012", "o/r", &[GithubSubject::AnyRef]);
        assert_eq!(
            aws["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"],
            "sts.amazonaws.com"
        );
    }

    #[test]
    fn github_repo_names() {
        assert!(validate_github_repo("octo-org/octo.repo_1").is_ok());
        assert!(validate_github_repo("octo-org@123456/octo-repo@456789").is_ok());
        for bad in ["octo", "octo/", "/repo", "o/r/x", "o*/r", "o/r:*", "o/r*", "o@/r", "o@1x/r", "o/r@"] {
            let error = validate_github_repo(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2);
            assert!(error.to_string().contains(bad));
        }
    }

    #[test]
    fn several_subjects_go_under_one_operator() {
        let sub_key = "token.actions.githubusercontent.com:sub";
        let cases: [(&[GithubSubject], &str, serde_json::Value); 4] = [
            (&[GithubSubject::PullRequest], "StringEquals", json!("repo:o/r:pull_request")),
            (
                &[GithubSubject::Ref("refs/heads/main".into()), GithubSubject::Environment("prod".into())],
                "StringEquals",
                json!(["repo:o/r:environment:prod", "repo:o/r:ref:refs/heads/main"]),
            ),
            (
                &[
                    GithubSubject::Ref("refs/heads/main".into()),
                    GithubSubject::Ref("refs/tags/v*".into()),
                    GithubSubject::PullRequest,
                ],
                "StringLike",
                json!(["repo:o/r:pull_request", "repo:o/r:ref:refs/heads/main", "repo:o/r:ref:refs/tags/v*"]),
            ),
            (
                &[GithubSubject::Ref("refs/tags/v?".into()), GithubSubject::Ref("refs/tags/v?".into())],
                "StringLike",
                json!("repo:o/r:ref:refs/tags/v?"),
            ),
        ];
        for (subjects, operator, expected) in cases {
            let policy = github_trust_policy(Partition::Aws, "123456789012", "o/r", subjects);
            let condition = &policy["Statement"][0]["Condition"];
            assert_eq!(condition[operator][sub_key], expected, "{subjects:?}");
            let other = if operator == "StringLike" { "StringEquals" } else { "StringLike" };
            assert!(condition[other].get(sub_key).is_none(), "{condition}");
        }
    }

    #[test]
    fn ref_subjects_are_checked() {
        for good in ["refs/heads/main", "refs/tags/v*", "refs/heads/release/1.x", "refs/tags/v?.?", "refs/heads/a+b"] {
            assert!(GithubSubject::Ref(good.into()).validate().is_ok(), "{good}");
        }
        for bad in ["main", "refs/heads/", "refs/pull/1/merge", "refs/heads/a:b", "refs/tags/v[0-9]"] {
            let error = GithubSubject::Ref(bad.into()).validate().unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2);
            assert!(error.to_string().contains(bad), "{error}");
        }
    }
}
