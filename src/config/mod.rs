//! Option resolution: the one place where flags, `ECR_SHIP_*` variables, `.ecr-ship.yml` and CI defaults meet.
//!
//! Precedence is flags > environment > config file > CI defaults. clap already folds a flag and its environment
//! variable into one `Option`, so each setting here is "the command line's value, else the file's, else the CI
//! system's or the built-in default". Every command's options are resolved once, into a typed and validated
//! settings value ([`PushSettings`], [`LoginSettings`], …); commands receive that value and never read flags, the
//! environment or the file again. Everything here is offline: a bad value is a [`BadInput`](crate::error::BadInput)
//! error (exit 2) before anything is contacted.

mod aws;
mod common;
pub(crate) mod file;
mod login;
mod merge;
mod policy;
mod prune;
mod push;
mod repository;
mod retag;
mod scan;
mod storage;
mod tags;
mod workflow;

use std::path::Path;
use std::time::Duration;

use crate::ci::EnvMap;
use crate::cli::Command;

pub use common::{OutputSettings, Reporting};
pub use login::{LoginSettings, LogoutSettings};
pub use merge::{MergeSettings, Platform};
pub use policy::PolicySettings;
pub use prune::PruneSettings;
pub use push::{PushSettings, SourceSettings, Transfer};
pub use retag::RetagSettings;
pub use scan::{ScanGateSettings, ScanSettings};
pub use storage::StorageSettings;
pub use tags::TagsSettings;

/// One command's resolved settings.
#[derive(Debug)]
pub enum Settings {
    Push(Box<PushSettings>),
    Login(LoginSettings),
    Logout(LogoutSettings),
    Tags(Box<TagsSettings>),
    Retag(Box<RetagSettings>),
    Policy(PolicySettings),
    Scan(Box<ScanSettings>),
    Merge(Box<MergeSettings>),
    Prune(Box<PruneSettings>),
}

impl Settings {
    /// The limit for the whole command (`--timeout`, `ECR_SHIP_TIMEOUT` or `timeout:` in the file).
    pub fn time_limit(&self) -> Option<Duration> {
        match self {
            Settings::Push(push) => push.time_limit,
            Settings::Login(login) => login.time_limit,
            Settings::Logout(logout) => logout.time_limit,
            Settings::Retag(retag) => retag.time_limit,
            Settings::Scan(scan) => scan.time_limit,
            Settings::Merge(merge) => merge.time_limit,
            Settings::Prune(prune) => prune.time_limit,
            Settings::Tags(_) | Settings::Policy(_) => None,
        }
    }
}

/// Resolves and validates one command's options. `env` is the process environment, `cwd` the working directory
/// relative paths are read from.
pub fn resolve(command: &Command, env: &EnvMap, cwd: &Path) -> anyhow::Result<Settings> {
    Ok(match command {
        Command::Push(args) => Settings::Push(Box::new(push::resolve(args, env, cwd)?)),
        Command::Login(args) => Settings::Login(login::resolve(args, env, cwd)?),
        Command::Logout(args) => Settings::Logout(login::resolve_logout(args, cwd)?),
        Command::Tags(args) => Settings::Tags(Box::new(tags::resolve(args, env, cwd)?)),
        Command::Retag(args) => Settings::Retag(Box::new(retag::resolve(args, env, cwd)?)),
        Command::Policy(args) => Settings::Policy(policy::resolve(args, env, cwd)?),
        Command::Scan(args) => Settings::Scan(Box::new(scan::resolve(args, env, cwd)?)),
        Command::Merge(args) => Settings::Merge(Box::new(merge::resolve(args, env, cwd)?)),
        Command::Prune(args) => Settings::Prune(Box::new(prune::resolve(args, env, cwd)?)),
        // The helper's one setting is its verb: `commands::run` hands it over before resolving anything.
        Command::CredentialHelper(args) => {
            crate::bail_input!("credential-helper {}: the credential helper takes no settings", args.verb)
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::file::DEFAULT_CONFIG;
    use super::*;
    use crate::cli::Cli;
    use crate::engine::EngineChoice;
    use crate::error::{EXIT_BAD_INPUT, exit_code};
    use crate::oci::Compression;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn resolve_in(dir: &Path, config: &str, args: &[&str]) -> anyhow::Result<Settings> {
        std::fs::write(dir.join(DEFAULT_CONFIG), config).unwrap();
        let mut argv = vec!["ecr-ship"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).unwrap();
        let env: EnvMap =
            [("AWS_EC2_METADATA_DISABLED", "true")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        resolve(&cli.command, &env, dir)
    }

    fn push_args(extra: &[&'static str]) -> Vec<&'static str> {
        let mut args =
            vec!["push", "--repository", "team/app", "--image", "app:1", "--region", "us-east-1", "--sha", SHA];
        args.extend_from_slice(extra);
        args
    }

    #[test]
    fn public_catalog_data_comes_from_the_file_and_fits_only_ecr_public() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("about.md"), "# About\n").unwrap();
        let config = "registry: public.ecr.aws/my-alias\nrepository-settings:\n  create: true\n  description: From \
                      the file\n  about-text-file: about.md\n  usage-text: docker pull it\n  architectures: [x86-64, \
                      ARM 64]\n  operating-systems: [Linux]\n";
        let public_push = ["push", "--repository", "app", "--image", "app:1", "--sha", SHA];
        let Settings::Push(push) = resolve_in(dir.path(), config, &public_push).unwrap() else { panic!("push") };
        let catalog = &push.repository_settings.catalog;
        assert_eq!(catalog.description.as_deref(), Some("From the file"));
        assert_eq!(catalog.about_text.as_deref(), Some("# About\n"));
        assert_eq!(catalog.usage_text.as_deref(), Some("docker pull it"));
        assert_eq!(catalog.architectures, ["x86-64", "ARM 64"]);
        assert_eq!(push.aws.public().and_then(|p| p.alias.as_deref()), Some("my-alias"));
        assert_eq!(push.aws.region(), "us-east-1", "ECR Public's API region when the job names none");
        assert!(push.create_repository);

        let flag = resolve_in(dir.path(), config, &[&public_push[..], &["--description", "flag wins"]].concat());
        let Settings::Push(push) = flag.unwrap() else { panic!("push") };
        assert_eq!(push.repository_settings.catalog.description.as_deref(), Some("flag wins"));

        let private =
            "registry: 123456789012.dkr.ecr.us-east-1.amazonaws.com\nrepository-settings:\n  description: x\n";
        let error = resolve_in(dir.path(), private, &public_push).unwrap_err();
        assert_eq!(exit_code(&error), EXIT_BAD_INPUT);
        assert!(error.to_string().contains("for ECR Public repositories"), "{error}");
        let mixed = "registry: public.ecr.aws\nrepository-settings:\n  scan-on-push: true\n";
        let error = resolve_in(dir.path(), mixed, &public_push).unwrap_err();
        assert!(error.to_string().contains("--scan-on-push"), "{error}");
    }

    #[test]
    fn the_file_timeout_is_the_whole_command_limit_and_the_flag_wins() {
        let dir = tempfile::tempdir().unwrap();
        let settings = resolve_in(dir.path(), "timeout: 7\n", &push_args(&[])).unwrap();
        assert_eq!(settings.time_limit(), Some(Duration::from_secs(7)));
        let Settings::Push(push) = &settings else { panic!("push settings") };
        assert_eq!(push.aws.timeout(), Duration::from_secs(7), "the same value bounds each AWS call");
        let settings = resolve_in(dir.path(), "timeout: 7\n", &push_args(&["--timeout", "3"])).unwrap();
        assert_eq!(settings.time_limit(), Some(Duration::from_secs(3)));
        for args in [
            vec!["retag", "--repository", "team/app", "--region", "us-east-1", "v1", "v2"],
            vec!["login", "--region", "us-east-1"],
            vec!["logout"],
        ] {
            let settings = resolve_in(dir.path(), "timeout: 9\n", &args).unwrap();
            assert_eq!(settings.time_limit(), Some(Duration::from_secs(9)), "{args:?}");
        }
    }

    #[test]
    fn switches_fall_through_from_flag_to_file_to_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = "skip-existing: true\nengine: podman\ntags:\n  templates: [\"{branch}-x\"]\n";
        let Settings::Push(push) = resolve_in(dir.path(), file, &push_args(&["--branch", "dev"])).unwrap() else {
            panic!("push settings")
        };
        assert!(push.skip_existing && push.logout && !push.force);
        assert!(matches!(&push.source, SourceSettings::Engine { engine: EngineChoice::Podman, .. }));
        assert_eq!(push.tags.plan().unwrap(), ["dev-x"]);
        let args = push_args(&["--branch", "dev", "--skip-existing=false", "--engine", "docker", "--tag", "t"]);
        let Settings::Push(push) = resolve_in(dir.path(), file, &args).unwrap() else { panic!("push settings") };
        assert!(!push.skip_existing);
        assert!(matches!(&push.source, SourceSettings::Engine { engine: EngineChoice::Docker, .. }));
        assert_eq!(push.tags.plan().unwrap(), ["t"]);
    }

    #[test]
    fn compression_defaults_to_gzip_reads_the_file_lets_the_flag_win_and_is_for_native_pushes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.tar"), b"").unwrap();
        let native = |extra: &[&'static str]| {
            let mut args = vec!["push", "--repository", "team/app", "--from", "docker-archive:app.tar"];
            args.extend_from_slice(&["--region", "us-east-1", "--sha", SHA]);
            args.extend_from_slice(extra);
            args
        };
        let compression = |config: &str, args: &[&str]| match resolve_in(dir.path(), config, args).unwrap() {
            Settings::Push(push) => push.compression,
            _ => panic!("push settings"),
        };
        assert_eq!(compression("", &native(&[])), Compression::Gzip);
        assert_eq!(compression("compression: zstd\n", &native(&[])), Compression::Zstd);
        assert_eq!(compression("compression: zstd\n", &native(&["--compression", "NONE"])), Compression::None);
        // With --image, asking for a compression asks for the push that applies it, on either engine.
        let transfer = |args: &[&str]| match resolve_in(dir.path(), "", args).unwrap() {
            Settings::Push(push) => push.transfer,
            _ => panic!("push settings"),
        };
        assert_eq!(transfer(&push_args(&[])), Transfer::Auto);
        assert_eq!(transfer(&push_args(&["--compression", "zstd"])), Transfer::Native);
        assert_eq!(transfer(&push_args(&["--transfer", "engine"])), Transfer::Engine);
        for (config, args, needle) in [
            ("", native(&["--compression", "xz"]), "unknown --compression 'xz': use gzip, zstd or none"),
            ("compression: brotli\n", native(&[]), "unknown --compression 'brotli': use gzip, zstd or none"),
            (
                "",
                push_args(&["--compression", "zstd", "--transfer", "engine"]),
                "--compression applies to native pushes",
            ),
        ] {
            let error = resolve_in(dir.path(), config, &args).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{args:?}: {error:#}");
            assert_eq!(format!("{error:#}").lines().count(), 1, "one line: {error:#}");
            assert!(format!("{error:#}").contains(needle), "{args:?}: {error:#}");
        }
    }

    #[test]
    fn bad_values_are_exit_2_and_name_the_value() {
        let dir = tempfile::tempdir().unwrap();
        for (config, args, needle) in [
            ("", vec!["push", "--image", "app"], "push needs --repository"),
            ("", vec!["push", "--repository", "Team/App", "--image", "app"], "Team/App"),
            (
                "",
                vec!["push", "--repository", "team/app", "--image=-x", "--region", "us-east-1"],
                "invalid --image '-x'",
            ),
            ("registry: nope.example.com\n", push_args(&[]), "nope.example.com"),
            ("", push_args(&["--sha-length", "2"]), "invalid sha length 2"),
            ("", push_args(&["--tag", "{nope}"]), "{nope}"),
            ("", vec!["retag", "--repository", "team/app", "--region", "us-east-1", "v1", "bad tag"], "bad tag"),
            ("", vec!["tags", "--sha", SHA, "--export"], "need --repository"),
            ("", vec!["policy"], "policy needs --repository"),
            ("engine: containerd\n", push_args(&[]), "unknown container engine 'containerd'"),
            ("", vec!["logout", "--engine", "rkt"], "unknown container engine 'rkt'"),
            ("", push_args(&["--kms-key", "arn:aws:s3:::bucket"]), "invalid KMS key 'arn:aws:s3:::bucket'"),
            (
                "",
                push_args(&["--kms-key", "arn:aws-cn:kms:cn-north-1:123456789012:alias/ecr"]),
                "is in aws-cn cn-north-1, but the repository is in aws us-east-1",
            ),
            (
                "",
                push_args(&["--kms-key", "arn:aws:kms:eu-west-1:123456789012:alias/ecr"]),
                "is in aws eu-west-1, but the repository is in aws us-east-1",
            ),
        ] {
            let error = resolve_in(dir.path(), config, &args).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT, "{args:?}: {error:#}");
            assert!(format!("{error:#}").contains(needle), "{args:?}: {error:#}");
        }
    }
}
