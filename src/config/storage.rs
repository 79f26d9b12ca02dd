//! The storage summary's settings (`--storage-summary`, `--price-per-gb`, or the config file's keys of the same
//! names), shared by push and prune.

use super::file::{ConfigFile, Scalar};
use crate::bail_input;
use crate::cli::StorageArgs;

/// When the repository's stored size is measured, and the price to show it at.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageSettings {
    /// `None` (auto): after a prune that writes a job summary, never after a push; `Some(true)`: always (a log line
    /// too); `Some(false)`: never.
    pub measure: Option<bool>,
    /// USD per GB-month instead of the region's public price.
    pub price_per_gb: Option<f64>,
}

impl StorageSettings {
    /// Whether to measure, given whether a job summary is written and whether the command read every manifest of
    /// the repository anyway (a prune). Measuring reads every manifest with BatchGetImage, which ECR records as a
    /// pull of each image (its `lastRecordedPullTime`, which `sinceImagePulled` lifecycle rules go by), so a push
    /// measures only when asked: otherwise every push would make every image look recently pulled.
    pub fn wanted(&self, summary_written: bool, manifests_read_anyway: bool) -> bool {
        self.measure.unwrap_or(summary_written && manifests_read_anyway)
    }
}

/// The flags (or their environment variables), else the config file's `storage-summary:` and `price-per-gb:` keys,
/// which take the same values; an error names where the bad value came from.
pub(super) fn resolve(args: &StorageArgs, file: &ConfigFile) -> anyhow::Result<StorageSettings> {
    let given = |flag: &Option<String>, key: &Option<Scalar>, name: &str| match (flag, key) {
        (Some(text), _) => Some((text.trim().to_string(), format!("--{name}"))),
        (None, Some(value)) => Some((value.as_flag_text().trim().to_string(), format!("{name} (config file)"))),
        (None, None) => None,
    };
    let measure = match given(&args.storage_summary, &file.storage_summary, "storage-summary") {
        None => None,
        Some((text, origin)) => match text.as_str() {
            "auto" => None,
            "true" => Some(true),
            "false" => Some(false),
            other => bail_input!("invalid {origin} '{other}': expected auto, true or false"),
        },
    };
    let price_per_gb = match given(&args.price_per_gb, &file.price_per_gb, "price-per-gb") {
        None => None,
        Some((text, origin)) => match text.strip_prefix('$').unwrap_or(&text).parse::<f64>() {
            Ok(usd) if usd.is_finite() && (0.0..=1000.0).contains(&usd) => Some(usd),
            _ => bail_input!("invalid {origin} '{text}': expected US dollars per GB-month, such as 0.10"),
        },
    };
    Ok(StorageSettings { measure, price_per_gb })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(summary: Option<&str>, price: Option<&str>) -> StorageArgs {
        StorageArgs { storage_summary: summary.map(String::from), price_per_gb: price.map(String::from) }
    }

    fn resolve_flags(args: &StorageArgs) -> anyhow::Result<StorageSettings> {
        resolve(args, &ConfigFile::default())
    }

    #[test]
    fn the_config_file_keys_act_as_the_flags_and_the_flags_win() {
        let file = ConfigFile::parse("storage-summary: true\nprice-per-gb: 0.023\n", "x.yml").unwrap();
        let from_file = resolve(&args(None, None), &file).unwrap();
        assert_eq!(from_file, StorageSettings { measure: Some(true), price_per_gb: Some(0.023) });
        let flags = resolve(&args(Some("false"), Some("$1")), &file).unwrap();
        assert_eq!(flags, StorageSettings { measure: Some(false), price_per_gb: Some(1.0) });
        for (text, named) in [
            ("storage-summary: sometimes\n", "invalid storage-summary (config file) 'sometimes': expected auto, true"),
            ("price-per-gb: -2\n", "invalid price-per-gb (config file) '-2': expected US dollars per GB-month"),
        ] {
            let error = resolve(&args(None, None), &ConfigFile::parse(text, "x.yml").unwrap()).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2);
            assert!(error.to_string().starts_with(named), "{error}");
        }
    }

    #[test]
    fn storage_flags() {
        let auto = resolve_flags(&args(None, None)).unwrap();
        // (summary written, manifests read anyway) -> measured
        for (summary, read, expected) in [(true, true, true), (true, false, false), (false, true, false)] {
            assert_eq!(auto.wanted(summary, read), expected, "auto with {summary} {read}");
        }
        assert!(resolve_flags(&args(Some("true"), None)).unwrap().wanted(false, false));
        assert!(!resolve_flags(&args(Some("false"), None)).unwrap().wanted(true, true));
        assert_eq!(resolve_flags(&args(None, Some("$0.023"))).unwrap().price_per_gb, Some(0.023));
        assert_eq!(resolve_flags(&args(Some("auto"), Some("0"))).unwrap().price_per_gb, Some(0.0));
        for (summary, price, named) in [
            (Some("yes"), None, "'yes'"),
            (None, Some("cheap"), "'cheap'"),
            (None, Some("-1"), "'-1'"),
            (None, Some("NaN"), "'NaN'"),
        ] {
            let error = resolve_flags(&args(summary, price)).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2);
            assert!(error.to_string().contains(named), "{error}");
        }
    }
}
