//! How a message tells the user to change a setting: in the words of the place the user gives it. A GitHub Action
//! user sets `create-repository: true` under `with:`, and "pass --create-repository" would send them looking for a
//! command line they never wrote. The action marks its run with `ECR_SHIP_VIA=github-action`; everything else is
//! the command line (where the `ECR_SHIP_*` variable is named too, for scripts that set variables).
//!
//! The surface is read once at start-up ([`init`]) and only ever changes wording, never behaviour.

use std::sync::OnceLock;

/// Where the user's settings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    CommandLine,
    GithubAction,
}

static SURFACE: OnceLock<Surface> = OnceLock::new();

/// The variable the GitHub Action sets, and its value there.
pub const VIA_VARIABLE: &str = "ECR_SHIP_VIA";
pub const VIA_GITHUB_ACTION: &str = "github-action";

/// Settles the surface from the value of [`VIA_VARIABLE`] (the first call wins).
pub fn init(via: Option<&str>) {
    let surface = match via {
        Some(VIA_GITHUB_ACTION) => Surface::GithubAction,
        _ => Surface::CommandLine,
    };
    let _ = SURFACE.set(surface);
}

fn surface() -> Surface {
    SURFACE.get().copied().unwrap_or(Surface::CommandLine)
}

/// The action input a flag is given as, where the two names differ (the rest share the flag's name).
const INPUT_NAMES: [(&str, &str); 3] = [("role-arn", "role-to-assume"), ("region", "aws-region"), ("sha", "")];

/// "pass --FLAG VALUE", or in the action "set the input `INPUT: VALUE`", for a setting named by its flag (without
/// the dashes). `value` is what to give; `None` for an on/off flag, which the action sets to `true`.
pub fn pass(flag: &str, value: Option<&str>) -> String {
    phrase(surface(), flag, value)
}

fn phrase(surface: Surface, flag: &str, value: Option<&str>) -> String {
    let input = INPUT_NAMES.iter().find(|(name, _)| *name == flag).map_or(flag, |(_, input)| input);
    match surface {
        Surface::GithubAction if !input.is_empty() => {
            format!("set the input `{input}: {}`", value.unwrap_or("true"))
        }
        Surface::GithubAction | Surface::CommandLine => {
            let variable = format!("ECR_SHIP_{}", flag.to_ascii_uppercase().replace('-', "_"));
            match value {
                Some(value) => format!("pass --{flag} {value} ({variable})"),
                None => format!("pass --{flag} ({variable}=true)"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_surface_names_the_setting_its_own_way() {
        let cases = [
            (
                Surface::CommandLine,
                "create-repository",
                None,
                "pass --create-repository (ECR_SHIP_CREATE_REPOSITORY=true)",
            ),
            (Surface::GithubAction, "create-repository", None, "set the input `create-repository: true`"),
            (Surface::CommandLine, "region", Some("REGION"), "pass --region REGION (ECR_SHIP_REGION)"),
            (Surface::GithubAction, "region", Some("REGION"), "set the input `aws-region: REGION`"),
            (Surface::GithubAction, "role-arn", Some("ARN"), "set the input `role-to-assume: ARN`"),
            // No input: the action passes ECR_SHIP_* variables through, so the variable is the way there too.
            (Surface::GithubAction, "sha", Some("SHA"), "pass --sha SHA (ECR_SHIP_SHA)"),
        ];
        for (surface, flag, value, expected) in cases {
            assert_eq!(phrase(surface, flag, value), expected, "{surface:?} {flag}");
        }
    }
}
