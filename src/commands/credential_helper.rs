//! `ecr-ship credential-helper VERB` (also run when the binary is called `docker-credential-ecr-ship`): the
//! protocol verbs over the library's `credential_helper`, reading the request from standard input and writing the
//! answer to standard output; and `install` / `uninstall`, which print the registries they configured.

use std::io::{Read, Write};

use anyhow::Context;

use crate::ci::EnvMap;
use crate::cli::CredentialHelperArgs;
use crate::credential_helper::{self, NOT_FOUND, TokenCache, Verb, install, protocol};
use crate::error::bad_input;
use crate::log;

pub async fn run(args: &CredentialHelperArgs, env: &EnvMap, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let Some(verb) = Verb::parse(&args.verb) else {
        return Err(bad_input(format!(
            "unknown credential-helper verb '{}': expected one of {}",
            crate::error::shown(&args.verb),
            Verb::NAMES
        )));
    };
    match verb {
        Verb::Get => get(env, stdout).await,
        // docker login and logout to an ECR host hand the helper a credential to keep or drop: the token is
        // always fresh from AWS, so there is nothing to keep, and succeeding keeps `docker login` working.
        Verb::Store | Verb::Erase => {
            let mut ignored = Vec::new();
            std::io::stdin().read_to_end(&mut ignored).context("reading the request from standard input")?;
            Ok(())
        }
        Verb::List => {
            let hosts = TokenCache::locate(env).map(|cache| cache.hosts()).unwrap_or_default();
            writeln!(stdout, "{}", protocol::list_answer(hosts.iter().map(String::as_str)))
                .context("writing to standard output")
        }
        Verb::Version => writeln!(stdout, "docker-credential-ecr-ship (ecr-ship) {}", env!("CARGO_PKG_VERSION"))
            .context("writing to standard output"),
        Verb::Install => install(args, env, stdout).await,
        Verb::Uninstall => uninstall(args, env, stdout).await,
    }
}

/// `get`: the server URL on standard input, the credentials (or the protocol's not-found answer) on standard
/// output. Any failure to get a token is "not found" to the caller, with the reason on standard error: the engine
/// then goes on without credentials (a public image still pulls) instead of failing on the helper.
async fn get(env: &EnvMap, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let mut request = String::new();
    std::io::stdin().read_to_string(&mut request).context("reading the server URL from standard input")?;
    let server_url = request.trim();
    let Some(served) = protocol::served(server_url) else {
        return not_found(stdout, format!("'{}' is not an Amazon ECR registry", crate::error::shown(server_url)));
    };
    let answer = match TokenCache::locate(env) {
        Ok(cache) => credential_helper::token(&served, env, &cache).await,
        Err(error) => Err(error),
    };
    match answer {
        Ok(token) => {
            if token.fetched {
                log::info(format!("fetched a new registry token for {}", served.host()));
            }
            writeln!(stdout, "{}", protocol::get_answer(server_url, token.secret.expose()))
                .context("writing to standard output")
        }
        Err(error) => not_found(stdout, format!("no token for {}: {error:#}", served.host())),
    }
}

/// The protocol's not-found answer: its exact text on standard output and exit status 1.
fn not_found(stdout: &mut dyn Write, why: String) -> anyhow::Result<()> {
    writeln!(stdout, "{NOT_FOUND}").context("writing to standard output")?;
    Err(crate::error::after_contact(anyhow::anyhow!("{why}")).context(NOT_FOUND))
}

/// `install --registries HOST,…`: checked offline first (every host must be one the helper serves), then the link
/// and the two config files.
async fn install(args: &CredentialHelperArgs, env: &EnvMap, stdout: &mut dyn Write) -> anyhow::Result<()> {
    if args.registries.is_empty() {
        return Err(bad_input(
            "credential-helper install needs --registries HOST[,HOST…], e.g. --registries \
             123456789012.dkr.ecr.eu-west-1.amazonaws.com,public.ecr.aws",
        ));
    }
    let mut hosts = Vec::new();
    for given in args.registries.iter().map(|h| h.trim()).filter(|h| !h.is_empty()) {
        match protocol::served(given) {
            Some(served) => hosts.push(served.host().to_string()),
            None => {
                return Err(bad_input(format!(
                    "--registries '{}' is not an Amazon ECR registry host: expected \
                     <12-digit account>.dkr.ecr.<region>.amazonaws.com (any partition) or public.ecr.aws",
                    crate::error::shown(given)
                )));
            }
        }
    }
    let files = install::config_files(env)?;
    let link = install::link_path(args.link_dir.as_deref())?;
    install::make_link(&link)?;
    log::info(format!("{} links to this ecr-ship", link.display()));
    for file in &files {
        install::name_helper(file, &hosts).await?;
        log::info(format!("{} names the helper for {}", file.display(), hosts.join(", ")));
    }
    super::report::lines(&hosts, stdout)
}

/// `uninstall`: the recorded entries put back in both config files, and the link removed if it is ours.
async fn uninstall(args: &CredentialHelperArgs, env: &EnvMap, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let mut restored = Vec::new();
    for file in install::config_files(env)? {
        for host in install::restore(&file).await? {
            log::info(format!("{} no longer names the helper for {host}", file.display()));
            if !restored.contains(&host) {
                restored.push(host);
            }
        }
    }
    let link = install::link_path(args.link_dir.as_deref())?;
    if install::remove_link(&link)? {
        log::info(format!("removed {}", link.display()));
    }
    super::report::lines(&restored, stdout)
}
