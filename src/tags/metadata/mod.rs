//! docker/metadata-action's `tags:` and `flavor:` syntax, verbatim, one file per file of metadata-action:
//! [`csv`] is the CSV parser it reads its inputs with (comment lines, quotes), [`tag`] is its `src/tag.ts` (a `type=semver,pattern={{version}}` line parsed into a checked [`TagRule`]),
//! [`flavor`] its `src/flavor.ts` (the `flavor:` lines) and [`meta`] its `src/meta.ts` (the rules evaluated
//! against the build's [`RefContext`], giving a [`meta::Version`] and its tags). What the rest of `tags` uses
//! is re-exported here (`metadata::parse_tag`, `metadata::evaluate`, ...).
//!
//! Where the results differ, ecr-ship's rules win and the README lists them: tags always come out valid (the
//! caller makes each one a valid tag), and a pull request's commit is its head, not GitHub's merge commit.

mod csv;
mod flavor;
mod meta;
mod tag;

pub use csv::input_entries;

pub use flavor::{Flavor, Latest};
pub use meta::{Line, RAW_PRIORITY, RefContext, evaluate, render};
pub use tag::{TagRule, default_rules, is_metadata_line, parse_tag};
