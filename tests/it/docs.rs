//! The documentation agrees with what it documents. The README's "#### Inputs" and "#### Outputs" tables (under
//! GitHub Actions) name exactly the keys of action.yml's `inputs:` and `outputs:`: an input missing from the table is
//! undocumented, and an output the table names but action.yml does not declare never reaches the workflow (a
//! composite action passes on only the outputs it declares). And no file of the repository refers to a path
//! outside it, which a fresh clone would not have. Offline: reads files, and runs `git ls-files`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The keys of a top-level mapping of action.yml (`inputs` or `outputs`).
fn action_keys(action: &serde_json::Value, section: &str) -> BTreeSet<String> {
    action
        .get(section)
        .and_then(serde_json::Value::as_object)
        .unwrap_or_else(|| panic!("action.yml has no `{section}:` mapping"))
        .keys()
        .cloned()
        .collect()
}

/// The names in the first column of the first table after `heading` in the README: every `code span` of that cell,
/// so a row such as "| `labels` / `annotations` | …" documents both.
fn readme_table_names(readme: &str, heading: &str) -> BTreeSet<String> {
    let mut lines = readme.lines().skip_while(|line| line.trim_end() != heading);
    assert!(lines.next().is_some(), "README.md has no heading `{heading}`");
    let rows: Vec<&str> = lines
        .take_while(|line| !line.starts_with('#'))
        .skip_while(|line| !line.trim_start().starts_with('|'))
        .take_while(|line| line.trim_start().starts_with('|'))
        .collect();
    assert!(rows.len() > 2, "README.md has no table under `{heading}`");
    let mut names = BTreeSet::new();
    // rows[0] is the header, rows[1] the `| --- |` line.
    for row in &rows[2..] {
        let first = row.trim_start().trim_start_matches('|').split('|').next().unwrap_or_default();
        let spans: Vec<&str> = first.split('`').skip(1).step_by(2).collect();
        assert!(!spans.is_empty(), "README.md, table under `{heading}`: the row {row:?} names nothing in `code`");
        names.extend(spans.into_iter().map(str::to_string));
    }
    names
}

fn assert_same(section: &str, declared: &BTreeSet<String>, documented: &BTreeSet<String>) {
    let undocumented: Vec<&String> = declared.difference(documented).collect();
    let undeclared: Vec<&String> = documented.difference(declared).collect();
    assert!(
        undocumented.is_empty() && undeclared.is_empty(),
        "action.yml's `{section}:` and the README's #### {} table differ:\n  \
         in action.yml, missing from the README table: {undocumented:?}\n  \
         in the README table, not declared in action.yml: {undeclared:?}",
        capitalise(section),
    );
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[test]
fn readme_tables_list_exactly_the_action_inputs_and_outputs() {
    let action: serde_json::Value =
        serde_saphyr::from_str(&read("action.yml")).unwrap_or_else(|e| panic!("parsing action.yml: {e}"));
    let readme = read("README.md");
    for section in ["inputs", "outputs"] {
        let declared = action_keys(&action, section);
        let documented = readme_table_names(&readme, &format!("#### {}", capitalise(section)));
        assert_same(section, &declared, &documented);
    }
}

#[test]
fn no_file_refers_to_a_path_outside_the_repository() {
    // Built so that this file does not contain it.
    let needle = concat!("..", "/shared");
    let root = root();
    // Tracked files, and new ones not yet committed (but not ignored ones such as target/).
    let output = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("running git ls-files: {e} (git is needed; scripts/install-demo-deps installs it)"));
    assert!(
        output.status.success(),
        "git ls-files failed in {} (not a git checkout?): {}",
        root.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let listing = String::from_utf8(output.stdout).expect("git ls-files printed a path that is not UTF-8");
    let mut checked = 0;
    let mut offending = Vec::new();
    for path in listing.split('\0').filter(|p| !p.is_empty()) {
        if Path::new(path).starts_with("fuzz/corpus") {
            continue;
        }
        let bytes = match std::fs::read(root.join(path)) {
            Ok(bytes) => bytes,
            // Listed by git but deleted in the work tree.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            // A directory: a submodule or a nested checkout.
            Err(_) if root.join(path).is_dir() => continue,
            Err(e) => panic!("reading {path}: {e}"),
        };
        // Binary files (a NUL byte, or not UTF-8) are not text that could name a path.
        let Ok(text) = std::str::from_utf8(&bytes) else { continue };
        if text.contains('\0') {
            continue;
        }
        checked += 1;
        for (number, line) in text.lines().enumerate() {
            if line.contains(needle) {
                offending.push(format!("{path}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(checked > 0, "git ls-files listed no text file in {}", root.display());
    assert!(
        offending.is_empty(),
        "{} line(s) refer to {needle}, a path outside the repository (a clone has no such directory):\n{}",
        offending.len(),
        offending.join("\n")
    );
}

/// CI is defined once: the GitHub workflow runs `.ci/run`, which runs the README's test command, so the two cannot
/// drift apart.
#[test]
fn the_github_workflow_runs_the_ci_script_which_runs_the_test_command() {
    let workflow = read(".github/workflows/ci.yml");
    assert!(
        workflow.lines().any(|line| line.trim_start().starts_with("run:") && line.contains("bash .ci/run")),
        ".github/workflows/ci.yml must run .ci/run"
    );
    let script = read(".ci/run");
    assert!(script.lines().any(|line| line.trim() == "scripts/test"), ".ci/run must end in scripts/test");
    assert!(read("CONTRIBUTING.md").contains("scripts/test"), "CONTRIBUTING.md names the full test command");
}
