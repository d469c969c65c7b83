//! The documentation a new admin reads: the README fits on a screen or two
//! (at most 12 KB, issue 18), and every relative link and `#anchor` in
//! README.md and docs/*.md leads somewhere. Anchors follow GitHub's heading
//! slugs (lower case; letters, digits, `-`, `_` and spaces kept, spaces
//! turned into `-`; a repeated heading gets `-1`, `-2`): the rule of
//! github/cmark-gfm's and github-slugger's `slug()`, which GitHub renders with.
//! No test of ours renders the Markdown, so this is a plain scan: fenced code
//! blocks are skipped, and only inline `[text](target)` links are checked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page under docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The lines outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors GitHub gives a page's headings.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for line in prose(text) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

/// Targets of inline links `[text](target)` outside code blocks and spans.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose(text) {
        // Drop inline code spans: `[a](b)` inside backticks is not a link.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            found.push(target.to_owned());
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn the_readme_fits_in_12_kb() {
    let size = std::fs::metadata(root().join("README.md")).unwrap().len();
    assert!(
        size <= 12 * 1024,
        "README.md is {size} bytes; move details into docs/ (limit 12288)"
    );
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            if !file.exists() {
                broken.push(format!("{name}: {target}: no file {}", file.display()));
                continue;
            }
            if let Some(anchor) = anchor {
                let Ok(linked) = std::fs::read_to_string(&file) else {
                    broken.push(format!("{name}: {target}: an anchor into a non-text file"));
                    continue;
                };
                if !anchors(&linked).contains(anchor) {
                    broken.push(format!("{name}: {target}: no heading with that anchor"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(
        checked > 20,
        "only {checked} relative links found: the scan is broken"
    );
}

/// The scripts the README tells a new admin to run are there and runnable
/// (`./scripts/try.sh`, the first command, must work on a fresh clone).
#[test]
fn the_scripts_the_readme_names_exist_and_are_executable() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut named = BTreeSet::new();
    for (at, _) in readme.match_indices("./scripts/") {
        let name: String = readme[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
            .collect();
        named.insert(name);
    }
    assert!(named.contains("scripts/try.sh"), "{named:?}");
    assert!(named.contains("scripts/test.sh"), "{named:?}");
    for name in &named {
        let path = root().join(name);
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("README names {name}: {e}"))
            .permissions();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert!(mode.mode() & 0o111 != 0, "{name} is not executable");
        }
        let _ = mode;
    }
}

#[test]
fn slugs_follow_githubs_rule() {
    assert_eq!(
        slug("The SharePoint Online target (optional, legacy)"),
        "the-sharepoint-online-target-optional-legacy"
    );
    assert_eq!(
        slug("One-time step: Microsoft Graph permissions for the managed identity"),
        "one-time-step-microsoft-graph-permissions-for-the-managed-identity"
    );
    let twice = anchors("# A\n## Notes\n```\n# not a heading\n```\n## Notes\n");
    assert_eq!(
        twice,
        BTreeSet::from(["a".into(), "notes".into(), "notes-1".into()])
    );
    assert_eq!(
        links("see [x](a.md#b) and `[y](not.md)`"),
        vec!["a.md#b".to_owned()]
    );
}
