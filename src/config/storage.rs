//! The storage summary's settings (`--storage-summary`, `--price-per-gb`), shared by push and prune.

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

pub(super) fn resolve(args: &StorageArgs) -> anyhow::Result<StorageSettings> {
    let measure = match args.storage_summary.as_deref().map(str::trim) {
        None | Some("auto") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => bail_input!("invalid --storage-summary '{other}': expected auto, true or false"),
    };
    let price_per_gb = match args.price_per_gb.as_deref().map(str::trim) {
        None => None,
        Some(text) => match text.strip_prefix('$').unwrap_or(text).parse::<f64>() {
            Ok(usd) if usd.is_finite() && (0.0..=1000.0).contains(&usd) => Some(usd),
            _ => bail_input!("invalid --price-per-gb '{text}': expected US dollars per GB-month, such as 0.10"),
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

    #[test]
    fn storage_flags() {
        let auto = resolve(&args(None, None)).unwrap();
        // (summary written, manifests read anyway) -> measured
        for (summary, read, expected) in [(true, true, true), (true, false, false), (false, true, false)] {
            assert_eq!(auto.wanted(summary, read), expected, "auto with {summary} {read}");
        }
        assert!(resolve(&args(Some("true"), None)).unwrap().wanted(false, false));
        assert!(!resolve(&args(Some("false"), None)).unwrap().wanted(true, true));
        assert_eq!(resolve(&args(None, Some("$0.023"))).unwrap().price_per_gb, Some(0.023));
        assert_eq!(resolve(&args(Some("auto"), Some("0"))).unwrap().price_per_gb, Some(0.0));
        for (summary, price, named) in [
            (Some("yes"), None, "'yes'"),
            (None, Some("cheap"), "'cheap'"),
            (None, Some("-1"), "'-1'"),
            (None, Some("NaN"), "'NaN'"),
        ] {
            let error = resolve(&args(summary, price)).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2);
            assert!(error.to_string().contains(named), "{error}");
        }
    }
}
