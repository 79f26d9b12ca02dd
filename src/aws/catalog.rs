//! The catalog data of an ECR Public repository ([`CatalogData`]: description, about and usage text, architecture
//! and operating-system badges, logo), checked against the ECR Public API's limits without the network. A leaf of
//! `aws`: repository settings carry it, the ECR Public API sends it.

use std::path::Path;

use aws_sdk_ecrpublic::primitives::Blob;
use aws_sdk_ecrpublic::types::RepositoryCatalogDataInput;

use crate::bail_input;

/// Limits of `RepositoryCatalogDataInput` in the ECR Public API reference.
const DESCRIPTION_MAX: usize = 1024;
const LONG_TEXT_MAX: usize = 25600;
const BADGES_MAX: usize = 50;
const BADGE_LEN: std::ops::RangeInclusive<usize> = 1..=50;
/// The API model's limit for `logoImageBlob` (the decoded bytes).
const LOGO_MAX: usize = 512_000;
/// The badges the ECR Public Gallery shows and filters by; others are stored but not discoverable.
const GALLERY_ARCHITECTURES: [&str; 4] = ["ARM", "ARM 64", "x86", "x86-64"];
const GALLERY_OPERATING_SYSTEMS: [&str; 2] = ["Linux", "Windows"];

/// A public repository's catalog data as the flags or config file gave it, before validation.
#[derive(Debug, Clone, Default)]
pub struct CatalogOptions {
    pub description: Option<String>,
    pub about_text: Option<String>,
    pub about_text_file: Option<std::path::PathBuf>,
    pub usage_text: Option<String>,
    pub usage_text_file: Option<std::path::PathBuf>,
    pub architectures: Vec<String>,
    pub operating_systems: Vec<String>,
    pub logo_file: Option<std::path::PathBuf>,
}

/// Validated catalog data; empty fields are left out of the request (and so left as they are on an update).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CatalogData {
    pub description: Option<String>,
    pub about_text: Option<String>,
    pub usage_text: Option<String>,
    pub architectures: Vec<String>,
    pub operating_systems: Vec<String>,
    /// The logo's bytes (PNG or JPEG), read from its file.
    pub logo: Option<Vec<u8>>,
}

impl std::fmt::Debug for CatalogData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogData")
            .field("description", &self.description)
            .field("about_text", &self.about_text.as_ref().map(String::len))
            .field("usage_text", &self.usage_text.as_ref().map(String::len))
            .field("architectures", &self.architectures)
            .field("operating_systems", &self.operating_systems)
            .field("logo", &self.logo.as_ref().map(Vec::len))
            .finish()
    }
}

impl CatalogData {
    /// Checks the options against the API's limits and reads the files. No network. Badges the Gallery does not
    /// know are accepted (the API stores them) with a warning, since they will not show.
    pub fn validate(opts: CatalogOptions) -> anyhow::Result<CatalogData> {
        if let Some(description) = &opts.description
            && description.chars().count() > DESCRIPTION_MAX
        {
            bail_input!(
                "the repository description is {} characters: ECR Public allows at most {DESCRIPTION_MAX}",
                description.chars().count()
            );
        }
        let about_text = long_text("about text", opts.about_text, opts.about_text_file.as_deref())?;
        let usage_text = long_text("usage text", opts.usage_text, opts.usage_text_file.as_deref())?;
        let architectures = badges("architecture", &opts.architectures, &GALLERY_ARCHITECTURES)?;
        let operating_systems = badges("operating system", &opts.operating_systems, &GALLERY_OPERATING_SYSTEMS)?;
        let logo = match &opts.logo_file {
            Some(path) => Some(read_logo(path)?),
            None => None,
        };
        Ok(CatalogData {
            description: opts.description.filter(|d| !d.trim().is_empty()),
            about_text,
            usage_text,
            architectures,
            operating_systems,
            logo,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == CatalogData::default()
    }

    pub(super) fn to_sdk(&self) -> RepositoryCatalogDataInput {
        RepositoryCatalogDataInput::builder()
            .set_description(self.description.clone())
            .set_about_text(self.about_text.clone())
            .set_usage_text(self.usage_text.clone())
            .set_architectures((!self.architectures.is_empty()).then(|| self.architectures.clone()))
            .set_operating_systems((!self.operating_systems.is_empty()).then(|| self.operating_systems.clone()))
            .set_logo_image_blob(self.logo.clone().map(Blob::new))
            .build()
    }
}

/// Markdown given inline or as a file (the file wins, as with the policy settings).
fn long_text(what: &str, inline: Option<String>, file: Option<&Path>) -> anyhow::Result<Option<String>> {
    let text =
        match file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                crate::error::bad_input(format!("cannot read the {what} file '{}': {e}", path.display()))
            })?),
            None => inline,
        };
    let text = text.filter(|t| !t.trim().is_empty());
    if let Some(text) = &text
        && text.chars().count() > LONG_TEXT_MAX
    {
        bail_input!("the {what} is {} characters: ECR Public allows at most {LONG_TEXT_MAX}", text.chars().count());
    }
    Ok(text)
}

fn badges(what: &str, values: &[String], gallery: &[&str]) -> anyhow::Result<Vec<String>> {
    let values: Vec<String> = values.iter().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
    if values.len() > BADGES_MAX {
        bail_input!("{} {what} badges given: ECR Public allows at most {BADGES_MAX}", values.len());
    }
    for value in &values {
        if !BADGE_LEN.contains(&value.chars().count()) {
            bail_input!("invalid {what} '{value}': ECR Public takes 1-50 characters");
        }
        if !gallery.contains(&value.as_str()) {
            crate::log::info(format!(
                "warning: {what} '{value}' is stored but the ECR Public Gallery only shows {}",
                gallery.iter().map(|g| format!("'{g}'")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(values)
}

fn read_logo(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .map_err(|e| crate::error::bad_input(format!("cannot read the logo file '{}': {e}", path.display())))?;
    let png = bytes.starts_with(b"\x89PNG\r\n\x1a\n");
    let jpeg = bytes.starts_with(&[0xff, 0xd8, 0xff]);
    if !png && !jpeg {
        bail_input!("the logo file '{}' is neither a PNG nor a JPEG image", path.display());
    }
    if bytes.len() > LOGO_MAX {
        bail_input!("the logo file '{}' is {} bytes: ECR Public takes at most {LOGO_MAX}", path.display(), bytes.len());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EXIT_BAD_INPUT, exit_code};

    #[test]
    fn catalog_data_is_checked_against_the_api_limits() {
        let dir = tempfile::tempdir().unwrap();
        let logo = dir.path().join("logo.png");
        std::fs::write(&logo, b"\x89PNG\r\n\x1a\nrest").unwrap();
        let about = dir.path().join("about.md");
        std::fs::write(&about, "# About\n").unwrap();
        let good = CatalogOptions {
            description: Some("A tool".into()),
            about_text: Some("inline loses".into()),
            about_text_file: Some(about.clone()),
            usage_text: Some("docker pull ...".into()),
            architectures: vec!["x86-64".into(), " ARM 64 ".into()],
            operating_systems: vec!["Linux".into()],
            logo_file: Some(logo.clone()),
            ..CatalogOptions::default()
        };
        let data = CatalogData::validate(good).unwrap();
        assert_eq!(data.about_text.as_deref(), Some("# About\n"));
        assert_eq!(data.architectures, ["x86-64", "ARM 64"]);
        assert_eq!(data.logo.as_ref().map(Vec::len), Some(12));
        assert!(!format!("{data:?}").contains("About"), "long texts are not dumped");

        let not_image = dir.path().join("logo.txt");
        std::fs::write(&not_image, "text").unwrap();
        let cases: Vec<(CatalogOptions, &str)> = vec![
            (CatalogOptions { description: Some("d".repeat(1025)), ..Default::default() }, "1025 characters"),
            (CatalogOptions { usage_text: Some("u".repeat(25601)), ..Default::default() }, "usage text"),
            (CatalogOptions { architectures: vec!["a".repeat(51)], ..Default::default() }, "aaaa"),
            (CatalogOptions { operating_systems: vec!["Linux".into(); 51], ..Default::default() }, "51"),
            (CatalogOptions { logo_file: Some(not_image), ..Default::default() }, "logo.txt"),
            (CatalogOptions { logo_file: Some(dir.path().join("missing.png")), ..Default::default() }, "missing.png"),
            (CatalogOptions { about_text_file: Some(dir.path().join("nope.md")), ..Default::default() }, "nope.md"),
        ];
        for (options, needle) in cases {
            let error = CatalogData::validate(options).unwrap_err();
            assert_eq!(exit_code(&error), EXIT_BAD_INPUT);
            assert!(format!("{error:#}").contains(needle), "{error:#} lacks {needle}");
        }
        assert!(CatalogData::validate(CatalogOptions::default()).unwrap().is_empty());
    }
}
