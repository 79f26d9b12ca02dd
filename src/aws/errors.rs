//! Turning AWS SDK errors into messages that teach: which call failed on which resource, and for a denial, which
//! IAM action is missing and how to get a policy that grants it.
//!
//! Denials are recognised by HTTP 403 or an `AccessDenied*` code rather than by the typed error alone, because not
//! every server answers in the protocol the SDK expects: moto sends its 403s as XML even for ECR (a JSON protocol),
//! so the SDK sees an unhandled error with no code and no message, and the only facts left are the status and the
//! body text, which still says `not authorized to perform: ecr:CreateRepository`.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::host::Partition;

/// How a message names the caller's account before any answer has named it.
pub(super) const UNKNOWN_ACCOUNT: &str = "<the caller's account>";
/// Codes that mean the credentials themselves were refused, as opposed to lacking a permission.
const REJECTED_CREDENTIAL_CODES: [&str; 7] = [
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "InvalidAccessKeyId",
];

/// One AWS call, described for messages.
pub(super) struct ApiCall {
    /// API operation, e.g. `CreateRepository`.
    pub operation: &'static str,
    /// IAM action it needs, e.g. `ecr:CreateRepository`.
    pub action: &'static str,
    /// What it was about, e.g. `for 'team/app' in us-east-1`.
    pub subject: String,
    /// ARN of the resource the action is checked against (`*` for GetAuthorizationToken).
    pub resource: String,
    /// The principal making the call, when already known (after GetCallerIdentity).
    pub principal: Option<String>,
    /// What to do about a denial.
    pub hint: String,
    /// Where the call goes, for messages about the network: `https://sts.us-east-1.amazonaws.com`.
    pub endpoint: String,
}

/// The endpoint a service client calls: its override (`AWS_ENDPOINT_URL…`), else the regional default.
pub(super) fn endpoint(configured: Option<&str>, service: &str, region: &str) -> String {
    match configured {
        Some(url) => url.to_string(),
        None => format!("https://{service}.{region}.{}", Partition::of_region(region).dns_suffix()),
    }
}

impl ApiCall {
    /// `CreateRepository for 'team/app' in us-east-1`: the context line every failure of this call gets.
    pub fn describe(&self) -> String {
        format!("{} {}", self.operation, self.subject)
    }

    /// Converts an SDK error into an error naming the call, with a teaching message for denials.
    pub fn error<E>(&self, error: SdkError<E, HttpResponse>) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = error.raw_response().map(|r| r.status().as_u16());
        let code = error.code().map(str::to_string);
        // The body matters only when the SDK could not parse it (moto's XML 403); it never holds credentials.
        let body = error.raw_response().and_then(|r| r.body().bytes()).map(|b| String::from_utf8_lossy(b).into_owned());
        let text = [error.message().unwrap_or_default(), body.as_deref().unwrap_or_default()].join("\n");
        let cause = match classify(status, code.as_deref(), &text) {
            Kind::Rejected(code) => anyhow::Error::new(CredentialsRejected { operation: self.operation, code, status }),
            Kind::Denied => anyhow::Error::new(self.denied(status, &text)),
            Kind::Other => anyhow::anyhow!(self.failure_in_words(&error)),
        };
        cause.context(self.describe())
    }

    /// A failure that is neither a denial nor rejected credentials, in sentences: the network problem with the
    /// endpoint and the operating system's reason, a timeout with what to do, or the service's own words.
    fn failure_in_words<E>(&self, error: &SdkError<E, HttpResponse>) -> String
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let endpoint = &self.endpoint;
        match error {
            SdkError::TimeoutError(_) => format!(
                "{endpoint} did not answer in time; raise --timeout if the network is slow, or check the proxy \
                 (HTTPS_PROXY) and AWS_ENDPOINT_URL"
            ),
            SdkError::DispatchFailure(failure) => {
                let reason = chain_in_words(error);
                if failure.is_timeout() {
                    format!("the connection to {endpoint} timed out ({reason}); check the network and the proxy")
                } else if failure.is_io() {
                    format!(
                        "could not connect to {endpoint} ({}); check the network, the proxy (HTTPS_PROXY) and \
                         AWS_ENDPOINT_URL",
                        io_reason(error).unwrap_or(reason)
                    )
                } else {
                    format!("the request to {endpoint} could not be sent ({reason})")
                }
            }
            SdkError::ServiceError(_) => {
                let code = error.code().unwrap_or("an error");
                match error.message() {
                    Some(message) if !message.is_empty() => format!("{endpoint} answered {code}: {message}"),
                    _ => format!("{endpoint} answered {code} ({})", chain_in_words(error)),
                }
            }
            _ => format!("{endpoint} gave an answer that could not be read ({})", chain_in_words(error)),
        }
    }

    fn denied(&self, status: Option<u16>, text: &str) -> AccessDenied {
        let principal =
            after(text, "User: ", |c| !c.is_whitespace() && c != '<' && c != '"').or_else(|| self.principal.clone());
        // A call made before any answer named the caller's account has it as a placeholder in its resource; the
        // denied principal's ARN names it (a registry that is not the caller's is always given, so never unknown).
        let resource =
            after(text, "on resource: ", |c| !c.is_whitespace() && c != '<' && c != '"').unwrap_or_else(|| {
                match principal.as_deref().and_then(|arn| arn.split(':').nth(4)).filter(|a| !a.is_empty()) {
                    Some(account) => self.resource.replace(UNKNOWN_ACCOUNT, account),
                    None => self.resource.clone(),
                }
            });
        AccessDenied {
            operation: self.operation.to_string(),
            action: after(text, "not authorized to perform: ", |c| c.is_ascii_alphanumeric() || c == ':' || c == '-')
                .filter(|a| a.contains(':'))
                .unwrap_or_else(|| self.action.to_string()),
            resource,
            principal,
            status,
            hint: self.hint.clone(),
        }
    }
}

/// Every level of an error's source chain by its `Display`, joined by ": ", skipping levels whose text an earlier
/// level already says. Never `Debug`.
pub(super) fn chain_in_words(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(level) = current {
        let text = level.to_string();
        let text = text.trim();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(text)) {
            parts.push(text.to_string());
        }
        current = level.source();
    }
    parts.join(": ")
}

/// The operating system's words for a network failure, from the innermost `std::io::Error` of the chain.
fn io_reason(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    let mut found = None;
    while let Some(level) = current {
        if let Some(io) = level.downcast_ref::<std::io::Error>() {
            found = Some(io.to_string());
        }
        current = level.source();
    }
    found
}

enum Kind {
    Rejected(String),
    Denied,
    Other,
}

fn classify(status: Option<u16>, code: Option<&str>, text: &str) -> Kind {
    let rejected = REJECTED_CREDENTIAL_CODES.iter().find(|c| code == Some(**c) || text.contains(&format!(">{c}<")));
    if let Some(code) = rejected {
        return Kind::Rejected(code.to_string());
    }
    let denied_code = code.is_some_and(|c| c.starts_with("AccessDenied") || c == "UnauthorizedOperation");
    if status == Some(403) || denied_code || text.contains("not authorized to perform") {
        return Kind::Denied;
    }
    Kind::Other
}

/// The token right after `marker` in `text`, made of the characters `keep` accepts.
fn after(text: &str, marker: &str, keep: impl Fn(char) -> bool) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    let token: String = text[start..].chars().take_while(|c| keep(*c)).collect();
    let token = token.trim_end_matches(['.', ',']).to_string();
    (!token.is_empty()).then_some(token)
}

/// An AWS call was refused for lack of an IAM permission.
#[derive(Debug, Clone)]
pub struct AccessDenied {
    pub operation: String,
    /// The IAM action that was refused, e.g. `ecr:CreateRepository`.
    pub action: String,
    /// The resource ARN it was refused on.
    pub resource: String,
    pub principal: Option<String>,
    pub status: Option<u16>,
    pub hint: String,
}

impl fmt::Display for AccessDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = self.principal.as_deref().unwrap_or("the caller");
        write!(f, "access denied: {who} is not allowed to perform {} on {}", self.action, self.resource)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, ". {}", self.hint)
    }
}

impl std::error::Error for AccessDenied {}

/// AWS refused the credentials themselves (unknown key, bad signature, expired session).
#[derive(Debug, Clone)]
pub struct CredentialsRejected {
    pub operation: &'static str,
    pub code: String,
    pub status: Option<u16>,
}

impl fmt::Display for CredentialsRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AWS rejected the credentials ({}", self.code)?;
        if let Some(status) = self.status {
            write!(f, ", HTTP {status}")?;
        }
        write!(
            f,
            "): the access key is unknown, the secret does not match, or the session expired; check which \
             credentials the job provides (environment, profile, role) and that they belong to this partition"
        )
    }
}

impl std::error::Error for CredentialsRejected {}

/// The hint every ECR denial carries.
pub(super) fn policy_hint(repository: Option<&str>) -> String {
    let repository = repository.unwrap_or("<repository>");
    format!("Run `ecr-ship policy --repository {repository}` for the least-privilege policy")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moto_403_body_gives_action_and_principal() {
        let body = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: \
                    arn:aws:sts::123456789012:assumed-role/ci-push/s1 is not authorized to perform: \
                    ecr:CreateRepository</Message></Error></Errors></ErrorResponse>";
        assert!(matches!(classify(Some(403), None, body), Kind::Denied));
        assert_eq!(
            after(body, "not authorized to perform: ", |c| c.is_ascii_alphanumeric() || c == ':').as_deref(),
            Some("ecr:CreateRepository")
        );
        assert_eq!(
            after(body, "User: ", |c| !c.is_whitespace() && c != '<').as_deref(),
            Some("arn:aws:sts::123456789012:assumed-role/ci-push/s1")
        );
    }

    #[test]
    fn classification() {
        let aws = "User: arn:aws:iam::1:user/x is not authorized to perform: ecr:PutImage on resource: \
                   arn:aws:ecr:us-east-1:1:repository/a because no identity-based policy allows it";
        assert!(matches!(classify(Some(400), Some("AccessDeniedException"), aws), Kind::Denied));
        assert_eq!(
            after(aws, "on resource: ", |c| !c.is_whitespace()).as_deref(),
            Some("arn:aws:ecr:us-east-1:1:repository/a")
        );
        let rejected = "<Error><Code>InvalidClientTokenId</Code></Error>";
        assert!(matches!(classify(Some(403), None, rejected), Kind::Rejected(c) if c == "InvalidClientTokenId"));
        assert!(matches!(classify(Some(400), Some("RepositoryNotFoundException"), ""), Kind::Other));
        assert!(matches!(classify(None, None, ""), Kind::Other));
    }

    #[test]
    fn chains_read_as_sentences_without_debug() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused (os error 111)");
        let outer = anyhow::Error::new(io).context("tcp connect error").context("dispatch failure");
        let text = chain_in_words(outer.as_ref());
        assert_eq!(text, "dispatch failure: tcp connect error: Connection refused (os error 111)");
        assert_eq!(io_reason(outer.as_ref()).as_deref(), Some("Connection refused (os error 111)"));
        assert_eq!(endpoint(None, "sts", "cn-north-1"), "https://sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(endpoint(Some("http://127.0.0.1:5000"), "sts", "us-east-1"), "http://127.0.0.1:5000");
    }

    #[test]
    fn denial_message_teaches() {
        let denied = AccessDenied {
            operation: "CreateRepository".into(),
            action: "ecr:CreateRepository".into(),
            resource: "arn:aws:ecr:us-east-1:123456789012:repository/team/app".into(),
            principal: None,
            status: Some(403),
            hint: policy_hint(Some("team/app")),
        };
        let text = denied.to_string();
        assert!(text.contains("ecr:CreateRepository on arn:aws:ecr:us-east-1:123456789012:repository/team/app"));
        assert!(text.contains("Run `ecr-ship policy --repository team/app` for the least-privilege policy"), "{text}");
        assert!(text.contains("(HTTP 403)"), "{text}");
    }
}
