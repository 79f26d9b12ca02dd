//! moto server, the stand-in for the ECR and STS APIs, from the pinned venv that `scripts/install-test-deps` makes.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Guarded, free_port, http_status, wait_until};

/// moto's default account; its GetAuthorizationToken password is always `<account>-auth-token`.
pub const ACCOUNT: &str = "123456789012";
pub const PASSWORD: &str = "123456789012-auth-token";
pub const REGION: &str = "us-east-1";

/// The venv the install script fills; `ECR_SHIP_TEST_VENV` points elsewhere if needed.
pub fn venv() -> PathBuf {
    std::env::var_os("ECR_SHIP_TEST_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cache/ecr-ship/venv")
    })
}

pub struct Moto {
    pub port: u16,
    /// `None` when another stand-in owns the moto process (the ECR stand-in runs moto inside itself).
    _process: Option<Guarded>,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let server = venv().join("bin/moto_server");
        assert!(server.exists(), "{} is missing: run scripts/install-test-deps", server.display());
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let process = Guarded { child, name: "moto" };
        wait_until("moto", Duration::from_secs(30), || http_status(port, "/moto-api/") == Some(200));
        Moto { port, _process: Some(process) }
    }

    /// A handle on a moto (or a front that forwards to one) that another stand-in started and stops.
    pub fn attached(port: u16) -> Moto {
        Moto { port, _process: None }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment that points the binary's AWS calls at this moto with static test keys.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL_ECR", self.endpoint()),
            ("AWS_ENDPOINT_URL_STS", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Runs a Python snippet with boto3 against this moto (to create identities, read back settings, ...).
    /// The snippet sees `ENDPOINT` and `boto3`; its stdout is returned. `client(name, key=, secret=, token=,
    /// region=)` makes a client of this endpoint; `client('ecr-public')` is signed for us-east-1 (the only region
    /// ECR Public has) unless `region=` says otherwise.
    pub fn python(&self, snippet: &str) -> String {
        let program = format!(
            "import boto3, json\nENDPOINT = {endpoint:?}\n\
             def client(name, **kw):\n    region = kw.get('region', 'us-east-1' if name == 'ecr-public' else \
             {REGION:?})\n    return boto3.client(name, endpoint_url=ENDPOINT, region_name=region, \
             aws_access_key_id=kw.get('key', 'testing'), aws_secret_access_key=kw.get('secret', 'testing'), \
             aws_session_token=kw.get('token'))\n{snippet}",
            endpoint = self.endpoint()
        );
        let output = Command::new(venv().join("bin/python")).arg("-c").arg(program).output().expect("run python");
        assert!(output.status.success(), "python failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// POSTs to a moto-api path with a text body (for example `/moto-api/reset-auth` with `0` or `inf`).
    pub fn post(&self, path: &str, body: &str) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect moto");
        write!(
            stream,
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    }

    /// Creates the identities of the chaining test while auth is off: `starter` may assume only `first`, and only
    /// `first` may assume `second`, which may log in. Returns the starter's keys.
    pub fn chain_identities(&self) -> (String, String) {
        let output = self.python(
            r#"
iam = client("iam")
allow = lambda acts, res: json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": acts, "Resource": res}]})
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
iam.create_user(UserName="starter")
iam.put_user_policy(UserName="starter", PolicyName="p",
    PolicyDocument=allow(["sts:AssumeRole"], "arn:aws:iam::123456789012:role/first"))
key = iam.create_access_key(UserName="starter")["AccessKey"]
iam.create_role(RoleName="first", AssumeRolePolicyDocument=trust)
iam.put_role_policy(RoleName="first", PolicyName="p",
    PolicyDocument=allow(["sts:AssumeRole"], "arn:aws:iam::123456789012:role/second"))
iam.create_role(RoleName="second", AssumeRolePolicyDocument=trust)
iam.put_role_policy(RoleName="second", PolicyName="p", PolicyDocument=allow(["ecr:GetAuthorizationToken"], "*"))
print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"#,
        );
        let keys: serde_json::Value = serde_json::from_str(output.trim()).expect("identities JSON");
        (keys["id"].as_str().expect("id").to_string(), keys["secret"].as_str().expect("secret").to_string())
    }
}
