//! `ecr-ship policy` as the README's GitHub quick start uses it: the command printed there, run as printed (through
//! `sh`, from the README text), writes a trust policy that admits the quick-start workflow's own triggers (main,
//! `v*` tags, pull requests) and refuses others, judged by a small evaluator of IAM's StringEquals/StringLike on the
//! `sub` and `aud` keys; its push policy can create the repository; and `--from-workflow` on the quick-start
//! workflow (also taken from the README) writes the same documents. Offline: no server is started.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{Ship, scratch_dir};

const QUICK_START: &str = "#### Quick start with OIDC (no stored keys)";
const SUB: &str = "token.actions.githubusercontent.com:sub";
const AUD: &str = "token.actions.githubusercontent.com:aud";

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("read README.md")
}

/// The fenced blocks (language, body) of the README section under `heading`, up to the next heading.
fn section_blocks(readme: &str, heading: &str) -> Vec<(String, String)> {
    let mut lines = readme.lines().skip_while(|line| line.trim_end() != heading);
    assert!(lines.next().is_some(), "README.md has no heading `{heading}`");
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in lines {
        match &mut open {
            None if line.starts_with('#') => break,
            None if line.starts_with("```") => open = Some((line.trim_start_matches('`').to_string(), String::new())),
            None => {}
            Some(_) if line.starts_with("```") => blocks.extend(open.take()),
            Some((_, body)) => body.push_str(&format!("{line}\n")),
        }
    }
    blocks
}

/// The `ecr-ship policy` command of the quick start's shell block, with its `\` continuation lines.
fn readme_policy_command(readme: &str) -> String {
    let blocks = section_blocks(readme, QUICK_START);
    let (_, shell) = blocks.iter().find(|(lang, _)| lang == "sh").expect("a ```sh block in the quick start");
    let mut command = String::new();
    for line in shell.lines().skip_while(|line| !line.starts_with("ecr-ship policy")) {
        command.push_str(line);
        command.push('\n');
        if !line.ends_with('\\') {
            break;
        }
    }
    assert!(command.starts_with("ecr-ship policy"), "no `ecr-ship policy` line in the quick start:\n{shell}");
    command
}

fn readme_workflow(readme: &str) -> String {
    let blocks = section_blocks(readme, QUICK_START);
    blocks.into_iter().find(|(lang, _)| lang == "yaml").expect("a ```yaml block in the quick start").1
}

/// IAM's StringLike: `*` any run of characters (also none), `?` exactly one.
fn string_like(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // matches[j] is whether p[..i] matches v[..j], row by row.
    let mut matches = vec![false; v.len() + 1];
    matches[0] = true;
    for &c in &p {
        let mut next = vec![false; v.len() + 1];
        for j in 0..=v.len() {
            next[j] = match c {
                '*' => matches[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && matches[j - 1],
                c => j > 0 && matches[j - 1] && v[j - 1] == c,
            };
        }
        matches = next;
    }
    matches[v.len()]
}

/// Whether a token with these `sub` and `aud` claims may assume the role: every operator and key of the one
/// statement's condition holds (a list of values holds when any of them matches), and no other key is used.
fn admits(trust: &Value, sub: &str, aud: &str) -> bool {
    let statements = trust["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 1, "{trust}");
    let statement = &statements[0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
    let condition = statement["Condition"].as_object().expect("a condition");
    condition.iter().all(|(operator, keys)| {
        keys.as_object().expect("condition keys").iter().all(|(key, wanted)| {
            let claim = match key.as_str() {
                SUB => sub,
                AUD => aud,
                other => panic!("the trust policy tests a key this evaluator does not know: {other}"),
            };
            let values: Vec<&str> = match wanted {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().map(|v| v.as_str().expect("string values")).collect(),
                other => panic!("condition value {other}"),
            };
            values.iter().any(|value| match operator.as_str() {
                "StringEquals" => claim == *value,
                "StringLike" => string_like(value, claim),
                other => panic!("the trust policy uses an operator this evaluator does not know: {other}"),
            })
        })
    })
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {text}", path.display()))
}

fn create_actions(push: &Value) -> Vec<String> {
    push["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_string))
        .filter(|a| a.contains("Create"))
        .collect()
}

#[test]
fn the_string_like_evaluator_can_refuse() {
    for (pattern, value, expected) in [
        ("repo:o/r:*", "repo:o/r:pull_request", true),
        ("refs/tags/v*", "refs/tags/v1.2.3", true),
        ("refs/tags/v*", "refs/tags/x1", false),
        ("v?", "v1", true),
        ("v?", "v12", false),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("exact", "exact", true),
        ("", "", true),
    ] {
        assert_eq!(string_like(pattern, value), expected, "{pattern} vs {value}");
    }
}

#[test]
fn the_readme_quick_start_policy_admits_its_own_workflow() {
    let readme = readme();
    let command = readme_policy_command(&readme);
    let work = scratch_dir("policy-readme");
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_ecr-ship")).parent().expect("binary dir").to_path_buf();
    let path = format!("{}:{}", binary_dir.display(), std::env::var("PATH").unwrap_or_default());
    let output = Command::new("sh")
        .args(["-c", &command])
        .env_clear()
        .env("PATH", path)
        .env("HOME", work.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(work.path())
        .output()
        .expect("run sh");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the README's command failed:\n{command}\n{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let trust = read_json(&work.path().join("trust.json"));
    let push = read_json(&work.path().join("push.json"));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("the printed document is JSON");
    assert_eq!(printed["github_trust_policy"], trust, "the file holds the printed trust policy");
    assert_eq!(printed["push_policy"], push, "the file holds the printed push policy");

    for (sub, admitted) in [
        ("repo:OWNER/app:ref:refs/heads/main", true),
        ("repo:OWNER/app:ref:refs/tags/v1.2.3", true),
        ("repo:OWNER/app:pull_request", true),
        ("repo:OWNER/app:ref:refs/heads/feature", false),
        ("repo:OWNER/app:ref:refs/tags/1.2.3", false),
        ("repo:OWNER/app:environment:prod", false),
        ("repo:OWNER/other:ref:refs/heads/main", false),
        ("repo:OWNER/app:ref:refs/heads/main-old", false),
    ] {
        assert_eq!(admits(&trust, sub, "sts.amazonaws.com"), admitted, "{sub}: {trust}");
    }
    assert!(!admits(&trust, "repo:OWNER/app:ref:refs/heads/main", "sts.amazonaws.com.cn"), "the audience is checked");
    let creates = create_actions(&push);
    assert!(creates.contains(&"ecr:CreateRepository".to_string()), "{push}");

    // The same from the quick-start workflow itself.
    let workflows = work.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(workflows.join("image.yml"), readme_workflow(&readme)).unwrap();
    let from_workflow = Ship::new(&["policy", "--repository", "team/app", "--account-id", "123456789012"])
        .args_from(&["--region".into(), "eu-west-1".into(), "--github-repo".into(), "OWNER/app".into()])
        .args_from(&["--from-workflow".into(), ".github/workflows/image.yml".into()])
        .cwd(work.path())
        .run()
        .success();
    assert!(!from_workflow.stderr.contains("warning"), "{}", from_workflow.stderr);
    let document: Value = serde_json::from_str(&from_workflow.stdout).expect("JSON");
    assert_eq!(document["github_trust_policy"], trust, "--from-workflow reads the same triggers");
    assert_eq!(document["push_policy"], push, "--from-workflow sees create-repository: true");
}

#[test]
fn from_workflow_admits_environments_and_says_where_it_widens() {
    let work = scratch_dir("policy-workflow");
    let workflow = "on:\n  push:\n    branches: ['release/**']\n    tags: ['v[0-9]*']\n  workflow_dispatch:\njobs:\n  \
                    build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: octo/ecr-ship@v1\n  deploy:\n    \
                    runs-on: ubuntu-latest\n    environment: prod\n    steps:\n      - uses: octo/ecr-ship@v1\n";
    std::fs::write(work.path().join("w.yml"), workflow).unwrap();
    let policy = |extra: &[&str]| {
        let mut args = vec!["policy", "--repository", "team/app", "--account-id", "123456789012", "--region"];
        args.extend(["us-east-1", "--github-repo", "octo/app", "--from-workflow", "w.yml"]);
        args.extend_from_slice(extra);
        Ship::new(&args).cwd(work.path()).run()
    };
    let run = policy(&[]).success();
    let document: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let trust = &document["github_trust_policy"];
    for (sub, admitted) in [
        ("repo:octo/app:environment:prod", true),
        ("repo:octo/app:ref:refs/heads/release/1.0", true),
        ("repo:octo/app:ref:refs/tags/v1", true),
        ("repo:octo/app:ref:refs/heads/feature", true), // workflow_dispatch may run on any branch
        ("repo:octo/app:pull_request", false),
        ("repo:octo/app:environment:staging", false),
    ] {
        assert_eq!(admits(trust, sub, "sts.amazonaws.com"), admitted, "{sub}: {trust}");
    }
    assert!(run.stderr.contains("'v[0-9]*'") && run.stderr.contains("wider"), "{}", run.stderr);
    assert!(run.stderr.contains("workflow_dispatch"), "{}", run.stderr);
    assert!(create_actions(&document["push_policy"]).is_empty(), "no step creates the repository");
    let created = policy(&["--create-repository"]).success();
    let document: Value = serde_json::from_str(&created.stdout).expect("JSON");
    assert!(create_actions(&document["push_policy"]).contains(&"ecr:CreateRepository".to_string()));

    std::fs::write(work.path().join("w.yml"), workflow.replace("workflow_dispatch:", "pull_request_review:")).unwrap();
    let refused = policy(&[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("pull_request_review") && refused.stderr.contains("w.yml"), "{}", refused.stderr);
    assert!(refused.stdout.is_empty());
}

#[test]
fn repeated_refs_pull_requests_and_files() {
    let work = scratch_dir("policy-flags");
    let base = ["policy", "--repository", "team/app", "--account-id", "123456789012", "--region", "us-east-1"];
    let run = |extra: &[&str]| Ship::new(&[&base[..], extra].concat()).cwd(work.path()).run();
    let printed =
        run(&["--github-repo", "o/r", "--github-ref", "refs/heads/main", "--github-ref", "refs/heads/dev"]).success();
    let trust: Value = serde_json::from_str::<Value>(&printed.stdout).unwrap()["github_trust_policy"].clone();
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"][SUB],
        serde_json::json!(["repo:o/r:ref:refs/heads/dev", "repo:o/r:ref:refs/heads/main"])
    );
    let prs = run(&["--github-repo", "o/r", "--github-pull-requests"]).success();
    let trust: Value = serde_json::from_str::<Value>(&prs.stdout).unwrap()["github_trust_policy"].clone();
    assert!(admits(&trust, "repo:o/r:pull_request", "sts.amazonaws.com"));
    assert!(!admits(&trust, "repo:o/r:ref:refs/heads/main", "sts.amazonaws.com"));

    for (extra, needle) in [
        (&["--trust-policy-file", "t.json"][..], "--trust-policy-file"),
        (&["--github-repo", "o/r", "--github-any-ref", "--github-pull-requests"], "--github-any-ref"),
        (&["--github-repo", "o/r", "--github-ref", "refs/tags/v[0-9]"], "refs/tags/v[0-9]"),
        (&["--github-repo", "o/r", "--from-workflow", "missing.yml"], "missing.yml"),
        (&["--github-repo", "o/r", "--github-pull-requests", "--push-policy-file", "no/such/p.json"], "no/such"),
    ] {
        let refused = run(extra);
        assert_eq!(refused.code, 2, "{extra:?}: {}", refused.stderr);
        assert!(refused.stderr.contains(needle), "{extra:?}: {}", refused.stderr);
    }
    assert!(!work.path().join("t.json").exists());
}

/// The `--flag value` pairs of the quick start's `aws iam SUBCOMMAND` line.
#[cfg(feature = "stand-ins")]
fn readme_aws_flags(readme: &str, subcommand: &str) -> std::collections::BTreeMap<String, String> {
    let blocks = section_blocks(readme, QUICK_START);
    let (_, shell) = blocks.iter().find(|(lang, _)| lang == "sh").expect("a ```sh block in the quick start");
    let prefix = format!("aws iam {subcommand} ");
    let line = shell.lines().find(|line| line.starts_with(&prefix)).unwrap_or_else(|| panic!("no `{prefix}…` line"));
    let words: Vec<&str> = line[prefix.len()..].split_whitespace().collect();
    words.chunks(2).map(|pair| (pair[0].trim_start_matches("--").to_string(), pair[1].to_string())).collect()
}

/// The quick start's three IAM steps, with the README's own parameters and the files its policy command wrote, are
/// accepted by moto's IAM and read back as written. The aws CLI is not in the test venv, so boto3 makes the same
/// three calls (create-open-id-connect-provider, create-role, put-role-policy).
#[cfg(feature = "stand-ins")]
#[test]
fn the_readme_iam_commands_accept_the_written_documents() {
    use crate::support::moto::Moto;
    let readme = readme();
    let work = scratch_dir("policy-iam");
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_ecr-ship")).parent().expect("binary dir").to_path_buf();
    let path = format!("{}:{}", binary_dir.display(), std::env::var("PATH").unwrap_or_default());
    let output = Command::new("sh")
        .args(["-c", &readme_policy_command(&readme)])
        .env_clear()
        .env("PATH", path)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(work.path())
        .output()
        .expect("run sh");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let provider = readme_aws_flags(&readme, "create-open-id-connect-provider");
    let role = readme_aws_flags(&readme, "create-role");
    let inline = readme_aws_flags(&readme, "put-role-policy");
    let file = |flags: &std::collections::BTreeMap<String, String>, key: &str| {
        let value = &flags[key];
        let name = value.strip_prefix("file://").unwrap_or_else(|| panic!("{key} {value} is not file://"));
        std::fs::read_to_string(work.path().join(name)).expect("the file the policy command wrote")
    };
    let moto = Moto::start();
    let snippet = format!(
        "iam = client('iam')\n\
         arn = iam.create_open_id_connect_provider(Url={url:?}, ClientIDList=[{client:?}])['OpenIDConnectProviderArn']\n\
         iam.create_role(RoleName={role_name:?}, AssumeRolePolicyDocument={trust:?})\n\
         iam.put_role_policy(RoleName={inline_role:?}, PolicyName={policy_name:?}, PolicyDocument={push:?})\n\
         got = iam.get_role(RoleName={role_name:?})['Role']['AssumeRolePolicyDocument']\n\
         inline = iam.get_role_policy(RoleName={inline_role:?}, PolicyName={policy_name:?})['PolicyDocument']\n\
         print(json.dumps({{'provider': arn, 'trust': got, 'push': inline}}))",
        url = provider["url"],
        client = provider["client-id-list"],
        role_name = role["role-name"],
        trust = file(&role, "assume-role-policy-document"),
        inline_role = inline["role-name"],
        policy_name = inline["policy-name"],
        push = file(&inline, "policy-document"),
    );
    let read: Value = serde_json::from_str(moto.python(&snippet).trim()).expect("JSON from python");
    let trust = read_json(&work.path().join("trust.json"));
    assert_eq!(read["trust"], trust, "boto3 hands the documents back decoded");
    assert_eq!(read["push"], read_json(&work.path().join("push.json")));
    assert_eq!(
        read["provider"].as_str().unwrap(),
        trust["Statement"][0]["Principal"]["Federated"].as_str().unwrap(),
        "the trust policy names the provider the README creates"
    );
}
