//! metadata-action's `src/flavor.ts`: the `flavor:` lines (`latest=auto|true|false`, `prefix=`, `suffix=`, each
//! affix with its `onlatest=`), parsed as CSV records like the tag lines and checked up front. Pure.

use super::csv::entry_fields;
use crate::bail_input;
use crate::tags::expr::Expr;

/// `flavor:` lines: `latest=auto|true|false`, `prefix=`, `suffix=` and `onlatest=` after either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flavor {
    pub latest: Latest,
    pub prefix: String,
    pub prefix_latest: bool,
    pub suffix: String,
    pub suffix_latest: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latest {
    Auto,
    Always,
    Never,
}

impl Default for Flavor {
    fn default() -> Flavor {
        Flavor {
            latest: Latest::Auto,
            prefix: String::new(),
            prefix_latest: false,
            suffix: String::new(),
            suffix_latest: false,
        }
    }
}

impl Flavor {
    pub fn parse(lines: &[String]) -> anyhow::Result<Flavor> {
        let mut flavor = Flavor::default();
        for line in lines {
            let mut onlatest_for = "";
            let fields = entry_fields(line)
                .map_err(|reason| crate::error::bad_input(format!("invalid flavor '{line}': {reason}")))?;
            for field in fields {
                // As flavor.ts: split at every '=', the key before the first, the value up to the second.
                let Some((key, value)) = field.split_once('=').map(|(k, v)| (k, v.split('=').next().unwrap_or(v)))
                else {
                    bail_input!(
                        "invalid flavor '{line}': '{field}' is not key=value (latest, prefix, suffix, onlatest)"
                    )
                };
                let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
                match key.as_str() {
                    "latest" => {
                        flavor.latest = match value {
                            "auto" => Latest::Auto,
                            "true" => Latest::Always,
                            "false" => Latest::Never,
                            _ => bail_input!(
                                "invalid flavor '{line}': latest must be auto, true or false, not '{value}'"
                            ),
                        }
                    }
                    "prefix" => {
                        flavor.prefix = value.to_string();
                        onlatest_for = "prefix";
                    }
                    "suffix" => {
                        flavor.suffix = value.to_string();
                        onlatest_for = "suffix";
                    }
                    "onlatest" => {
                        let on = match value {
                            "true" => true,
                            "false" => false,
                            _ => bail_input!("invalid flavor '{line}': onlatest must be true or false, not '{value}'"),
                        };
                        match onlatest_for {
                            "prefix" => flavor.prefix_latest = on,
                            "suffix" => flavor.suffix_latest = on,
                            _ => {}
                        }
                    }
                    _ => bail_input!(
                        "invalid flavor '{line}': unknown key '{key}'; known: latest, prefix, suffix, onlatest"
                    ),
                }
            }
        }
        for text in [&flavor.prefix, &flavor.suffix] {
            Expr::parse(text).map_err(|error| crate::error::bad_input(format!("invalid flavor: {error}")))?;
        }
        Ok(flavor)
    }

    pub(super) fn latest_or(&self, auto: bool) -> bool {
        match self.latest {
            Latest::Auto => auto,
            Latest::Always => true,
            Latest::Never => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_lines_split_as_flavor_ts_splits_them() {
        let parse = |line: &str| Flavor::parse(&[line.to_string()]);
        assert_eq!(parse(r#""prefix=v","suffix=-x""#).unwrap().prefix, "v");
        assert_eq!(parse("prefix=a=b").unwrap().prefix, "a", "the value ends at the second '=', as in flavor.ts");
        for line in [r#"prefix=a"b"#, r#"prefix="a"b"#, r#""prefix=a"#] {
            let error = parse(line).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), crate::error::EXIT_BAD_INPUT);
            assert!(error.to_string().contains(&format!("invalid flavor '{line}'")), "{error}");
        }
    }
}
