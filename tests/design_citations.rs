//! Every DESIGN.md section cited from the code (`DESIGN.md, "Section"`) exists under that
//! exact name, so code comments and the design cannot drift apart unnoticed.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// The headings of DESIGN.md, without their `#` marks.
fn sections() -> BTreeSet<String> {
    let design = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("DESIGN.md"))
        .expect("read DESIGN.md");
    design
        .lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| line.trim_start_matches('#').trim().to_string())
        .collect()
}

/// The comment text of a Rust file, its comment lines joined (citations wrap lines).
fn comment_text(source: &str) -> String {
    source
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let text = line
                .strip_prefix("//!")
                .or_else(|| line.strip_prefix("///"))
                .or_else(|| line.strip_prefix("//"))?;
            Some(text.trim())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The section names cited in `text`: every quoted name after `DESIGN.md` up to the end of
/// its parenthesis or sentence (a `)`, `;` or `.` outside quotes).
fn citations(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("DESIGN.md") {
        let mut quoted: Option<String> = None;
        for c in text[at + "DESIGN.md".len()..].chars() {
            match (&mut quoted, c) {
                (Some(name), '"') => {
                    found.push(std::mem::take(name));
                    quoted = None;
                }
                (Some(name), c) => name.push(c),
                (None, '"') => quoted = Some(String::new()),
                (None, ')' | ';' | '.') => break,
                (None, _) => {}
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_cited_design_section_exists() {
    let sections = sections();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut missing = Vec::new();
    let mut cited = 0;
    for file in files {
        if file.ends_with("design_citations.rs") {
            continue;
        }
        let source = fs::read_to_string(&file).expect("read a source file");
        for name in citations(&comment_text(&source)) {
            cited += 1;
            if !sections.contains(&name) {
                missing.push(format!("{}: \"{name}\"", file.display()));
            }
        }
    }
    assert!(
        cited > 20,
        "only {cited} citations found: is the scan broken?"
    );
    assert!(
        missing.is_empty(),
        "cited sections missing from DESIGN.md:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_citation_scan_reads_wrapped_and_listed_names() {
    let text = comment_text(
        "// see (DESIGN.md, \"Commit protocol\" and \"Write-ahead-log\n// mode\"); not \"this\"",
    );
    assert_eq!(
        citations(&text),
        ["Commit protocol", "Write-ahead-log mode"]
    );
}
