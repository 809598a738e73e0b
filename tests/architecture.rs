//! The rules of `doc/architecture.md`, enforced by reading the source.
//!
//! The module graph: every `src/**/*.rs` file is read, each reference it
//! makes to another top-level module (`use crate::X`, `crate::X::...`
//! anywhere in code, `super::`/`$crate::` paths resolved from the file's
//! place in the tree) is collected, and the test fails listing every arrow
//! that [`ALLOWED`] does not contain. [`ALLOWED`] is the table
//! `doc/architecture.md` prints; the two change together. Test code
//! (`#[cfg(test)]` modules) counts like any other code: a test in `mime`
//! that imports `imap` is an arrow from `mime` to `imap`. Comments, doc
//! comments and string literals never count.
//!
//! `unsafe`: `src/lib.rs` denies `unsafe_code`, and `allow(unsafe_code)`
//! exists only on `sys::activation`, `sys::process`, `sys::tcp` and
//! `sys::memory` in `src/sys/mod.rs`;
//! the compiler then confines `unsafe` to those modules, and clippy's
//! `undocumented_unsafe_blocks` demands a `SAFETY:` comment on each block.
//!
//! This file lives in `tests/` rather than beside a module because these
//! are properties of the whole source tree that belong to no module; it
//! only reads files and never calls the library.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Which top-level modules each top-level module may name. Mirrors the
/// table in `doc/architecture.md`; a module always may name itself.
const ALLOWED: &[(&str, &[&str])] = &[
    ("cli", &["imap", "lmtp", "store", "config", "mime", "sys"]),
    ("imap", &["store", "mime", "sys"]),
    ("lmtp", &["store", "mime", "sys"]),
    ("store", &["crypto", "mime", "sys"]),
    ("crypto", &["sys"]),
    ("mime", &[]),
    ("sys", &[]),
    ("config", &[]),
];

/// Arrows tolerated for now, each with the reason and the change that
/// removes it. An entry here that no source file uses fails the test, so
/// the list cannot outlive its reason.
const TEMPORARY_EXCEPTIONS: &[(&str, &str, &str)] = &[];

#[test]
fn architecture_every_arrow_between_modules_is_allowed() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let declared = declared_modules(&src.join("lib.rs"));
    let mut problems = Vec::new();

    for module in &declared {
        if !ALLOWED.iter().any(|(from, _)| from == module) {
            problems.push(format!(
                "src/lib.rs declares `{module}`, which has no row in ALLOWED \
                 (tests/module_graph.rs) nor in doc/architecture.md"
            ));
        }
    }

    let mut used_exceptions = BTreeSet::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).expect("file found under src");
        let Some(path) = module_path(rel) else {
            continue;
        };
        let text =
            fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let tokens = lex(&text).unwrap_or_else(|e| panic!("src/{}: {e}", rel.display()));
        for reference in references(&path, &tokens) {
            let at = format!("src/{}:{}", rel.display(), reference.line);
            let from = path[0].as_str();
            match reference.target {
                Target::Module(to) => {
                    if to == from {
                        continue;
                    }
                    if !declared.contains(&to) && !ALLOWED.iter().any(|(m, _)| *m == to) {
                        problems.push(format!(
                            "{at}: `{from}` names `{to}` at the crate root, \
                             which is not a module in src/lib.rs"
                        ));
                    } else if TEMPORARY_EXCEPTIONS
                        .iter()
                        .any(|(f, t, _)| *f == from && *t == to)
                    {
                        used_exceptions.insert((from.to_owned(), to.clone()));
                    } else if !allowed(from, &to) {
                        problems.push(format!("{at}: {from} → {to} is not allowed"));
                    }
                }
                Target::Glob => problems.push(format!(
                    "{at}: a glob import of the crate root hides which modules \
                     `{from}` uses; name them"
                )),
            }
        }
    }

    for (from, to, why) in TEMPORARY_EXCEPTIONS {
        if !used_exceptions.contains(&(from.to_string(), to.to_string())) {
            problems.push(format!(
                "the temporary exception {from} → {to} is no longer used; \
                 delete it from TEMPORARY_EXCEPTIONS ({why})"
            ));
        }
    }

    assert!(
        problems.is_empty(),
        "{} arrow(s) against doc/architecture.md:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// Where `unsafe` may be written: the modules carrying
/// `allow(unsafe_code)`, as (file declaring it, module declared).
/// `sys::process` forks the LMTP server's per-recipient delivery child
/// (`fork`, `sigaction`, `_exit` have no safe API).
const UNSAFE_MODULES: &[(&str, &str)] = &[
    ("sys/mod.rs", "activation"),
    ("sys/mod.rs", "process"),
    ("sys/mod.rs", "tcp"),
    ("sys/mod.rs", "memory"),
];

#[test]
fn architecture_unsafe_code_is_denied_except_in_the_listed_sys_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = lex(&fs::read_to_string(src.join("lib.rs")).expect("reading src/lib.rs"))
        .expect("lexing src/lib.rs");
    assert!(
        lint_attributes(&lib)
            .iter()
            .any(|(level, _)| level == "deny" || level == "forbid"),
        "src/lib.rs must deny unsafe_code"
    );
    let mut allows = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).expect("file found under src");
        let text = fs::read_to_string(&file).expect("reading a source file");
        let tokens = lex(&text).unwrap_or_else(|e| panic!("src/{}: {e}", rel.display()));
        for (level, at) in lint_attributes(&tokens) {
            if level == "allow" || level == "expect" {
                allows.push((
                    rel.to_string_lossy().into_owned(),
                    module_after(&tokens, at).unwrap_or_default(),
                    tokens[at - 1].line,
                ));
            }
        }
    }
    let stray: Vec<String> = allows
        .iter()
        .filter(|(file, module, _)| !UNSAFE_MODULES.iter().any(|(f, m)| f == file && m == module))
        .map(|(file, _, line)| format!("src/{file}:{line}"))
        .collect();
    assert!(
        stray.is_empty() && allows.len() == UNSAFE_MODULES.len(),
        "unsafe_code may be allowed only on {UNSAFE_MODULES:?} (doc/architecture.md); \
         allowed {} time(s), stray: {stray:?}",
        allows.len()
    );
}

/// The `#[allow|deny|forbid|expect(..., unsafe_code, ...)]` attributes
/// (inner or outer) in `tokens`: each lint level, and the index of the
/// first token after the attribute's closing `]`.
fn lint_attributes(tokens: &[Token]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let Kind::Ident(level) = &t.kind else {
            continue;
        };
        let attribute_start = i >= 2
            && tokens[i - 1].kind == Kind::Other(b'[')
            && matches!(tokens[i - 2].kind, Kind::Other(b'#') | Kind::Other(b'!'));
        if !attribute_start
            || !matches!(level.as_str(), "allow" | "deny" | "forbid" | "expect")
            || tokens.get(i + 1).map(|t| &t.kind) != Some(&Kind::Other(b'('))
        {
            continue;
        }
        let Some(close) = tokens[i..]
            .iter()
            .position(|t| t.kind == Kind::Other(b')'))
            .map(|p| i + p)
        else {
            continue;
        };
        let names_unsafe_code = tokens[i + 2..close]
            .iter()
            .any(|t| t.kind == Kind::Ident("unsafe_code".to_owned()));
        if names_unsafe_code && tokens.get(close + 1).map(|t| &t.kind) == Some(&Kind::Other(b']')) {
            out.push((level.clone(), close + 2));
        }
    }
    out
}

/// The module an outer attribute ending before `tokens[at]` applies to:
/// `[pub[(..)]] mod name`, else `None`.
fn module_after(tokens: &[Token], at: usize) -> Option<String> {
    let mut k = at;
    if tokens.get(k)?.kind == Kind::Ident("pub".to_owned()) {
        k += 1;
        if tokens.get(k)?.kind == Kind::Other(b'(') {
            k += tokens[k..]
                .iter()
                .position(|t| t.kind == Kind::Other(b')'))?
                + 1;
        }
    }
    match (&tokens.get(k)?.kind, &tokens.get(k + 1)?.kind) {
        (Kind::Ident(m), Kind::Ident(name)) if m == "mod" => Some(name.clone()),
        _ => None,
    }
}

/// The scanner itself, on small inputs, so that a bug in it cannot make the
/// graph test pass vacuously.
#[test]
fn architecture_the_scanner_sees_every_form_of_reference_and_nothing_else() {
    let text = r##"
        //! Doc comment naming crate::imap.
        /* block /* nested crate::cli */ comment */
        use crate::store::Flag;
        use crate::{crypto::Key, sys, self as _};
        use crate::mime as m;
        fn f() -> crate::config::Config { let _ = "crate::lmtp"; let _ = r#"crate::cli"#; todo!() }
        fn g<'a>(x: &'a str) -> char { let _ = b'"'; let _ = '\''; 'x' }
        /// Doc on an item: crate::cli.
        #[cfg(test)]
        mod tests {
            use super::super::imap::wire;
            mod deeper { use super::super::super::lmtp; }
        }
        macro_rules! m { () => { $crate::cli::run() }; }
        use super::*;
    "##;
    let tokens = lex(text).expect("lexes");
    let path = vec!["mime".to_owned()];
    let seen: Vec<String> = references(&path, &tokens)
        .into_iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(
        seen,
        [
            "store@4", "crypto@5", "sys@5", "mime@6", "config@7", "imap@12", "lmtp@13", "cli@15",
            "*@16",
        ]
    );
}

fn allowed(from: &str, to: &str) -> bool {
    ALLOWED
        .iter()
        .any(|(f, targets)| *f == from && targets.contains(&to))
}

/// The `mod` items of `src/lib.rs`: the crate's top-level modules.
fn declared_modules(lib: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(lib).expect("reading src/lib.rs");
    let tokens = lex(&text).expect("lexing src/lib.rs");
    tokens
        .windows(2)
        .filter_map(|w| match (&w[0].kind, &w[1].kind) {
            (Kind::Ident(m), Kind::Ident(name)) if m == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The module path of a file relative to `src/`: `imap/wire/mod.rs` is
/// `imap::wire`. `lib.rs` (the crate root, which only declares modules) and
/// `main.rs` (a separate crate that calls `cli`) have none.
fn module_path(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if parts.is_empty() && (stem == "lib" || stem == "main") {
        return None;
    }
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    Some(parts)
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Ident(String),
    /// `::`
    PathSep,
    Open,
    Close,
    Comma,
    Star,
    /// Any other punctuation, e.g. `(`, `]`, `#`.
    Other(u8),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    line: usize,
}

/// Rust source as the tokens the scanner needs. Comments (doc comments
/// included), string, byte-string, raw-string and character literals are
/// dropped; lifetimes are told apart from character literals.
fn lex(text: &str) -> Result<Vec<Token>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let push = |out: &mut Vec<Token>, kind, line| out.push(Token { kind, line });
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                loop {
                    match (b.get(i), b.get(i + 1)) {
                        (Some(b'/'), Some(b'*')) => {
                            depth += 1;
                            i += 2;
                        }
                        (Some(b'*'), Some(b'/')) => {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        (Some(b'\n'), _) => {
                            line += 1;
                            i += 1;
                        }
                        (Some(_), _) => i += 1,
                        (None, _) => return Err(format!("line {line}: unterminated comment")),
                    }
                }
            }
            b'"' => i = skip_string(b, i + 1, &mut line)?,
            b'\'' => i = skip_char_or_lifetime(b, i, line)?,
            b':' if b.get(i + 1) == Some(&b':') => {
                push(&mut out, Kind::PathSep, line);
                i += 2;
            }
            b'{' => {
                push(&mut out, Kind::Open, line);
                i += 1;
            }
            b'}' => {
                push(&mut out, Kind::Close, line);
                i += 1;
            }
            b',' => {
                push(&mut out, Kind::Comma, line);
                i += 1;
            }
            b'*' => {
                push(&mut out, Kind::Star, line);
                i += 1;
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                let word = &text[start..i];
                // Raw strings and byte strings: r"..", r#".."#, b"..", br#".."#.
                let hashes = b[i..].iter().take_while(|&&h| h == b'#').count();
                if matches!(word, "r" | "br" | "cr") && b.get(i + hashes) == Some(&b'"') {
                    i = skip_raw_string(b, i + hashes + 1, hashes, &mut line)?;
                } else if matches!(word, "b" | "c") && b.get(i) == Some(&b'"') {
                    i = skip_string(b, i + 1, &mut line)?;
                } else if word == "b" && b.get(i) == Some(&b'\'') {
                    i = skip_char_or_lifetime(b, i, line)?;
                } else if word == "r" && b.get(i) == Some(&b'#') {
                    // A raw identifier, r#type: the identifier after it.
                    i += 1;
                } else {
                    push(&mut out, Kind::Ident(word.to_owned()), line);
                }
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                push(&mut out, Kind::Other(c), line);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Skips a `"..."` body starting after the opening quote.
fn skip_string(b: &[u8], mut i: usize, line: &mut usize) -> Result<usize, String> {
    let start = *line;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            b'\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    Err(format!("line {start}: unterminated string"))
}

/// Skips a raw string body starting after `r##"`, ending at `"##`.
fn skip_raw_string(
    b: &[u8],
    mut i: usize,
    hashes: usize,
    line: &mut usize,
) -> Result<usize, String> {
    let start = *line;
    while i < b.len() {
        if b[i] == b'"'
            && b[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == b'#')
                .count()
                == hashes
        {
            return Ok(i + 1 + hashes);
        }
        if b[i] == b'\n' {
            *line += 1;
        }
        i += 1;
    }
    Err(format!("line {start}: unterminated raw string"))
}

/// At a `'`: skips a character literal (`'x'`, `'\n'`, `'\u{..}'`) or a
/// lifetime's quote (`'a`), whose name is then lexed as an identifier.
fn skip_char_or_lifetime(b: &[u8], i: usize, line: usize) -> Result<usize, String> {
    if b.get(i + 1) == Some(&b'\\') {
        let mut j = i + 3;
        while j < b.len() && b[j] != b'\'' {
            j += 1;
        }
        return if j < b.len() {
            Ok(j + 1)
        } else {
            Err(format!("line {line}: unterminated character literal"))
        };
    }
    // One (possibly multi-byte) character followed by a quote is a literal.
    let width = match b.get(i + 1) {
        Some(&c) if c < 0x80 => 1,
        Some(&c) if c >= 0xf0 => 4,
        Some(&c) if c >= 0xe0 => 3,
        Some(_) => 2,
        None => return Err(format!("line {line}: stray quote")),
    };
    if b.get(i + 1 + width) == Some(&b'\'') {
        Ok(i + 2 + width)
    } else {
        Ok(i + 1)
    }
}

enum Target {
    /// A top-level module, named at the crate root.
    Module(String),
    /// `use crate::*` or a `super::*` that reaches the crate root.
    Glob,
}

struct Reference {
    target: Target,
    line: usize,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Module(m) => write!(f, "{m}@{}", self.line),
            Target::Glob => write!(f, "*@{}", self.line),
        }
    }
}

/// Every path in `tokens` that starts at the crate root (`crate::`,
/// `$crate::`, or enough `super::`s from `file_path` plus the inline `mod`
/// blocks around it), as the top-level name it reaches.
fn references(file_path: &[String], tokens: &[Token]) -> Vec<Reference> {
    let mut out = Vec::new();
    // Inline modules (`mod tests { ... }`) open around the current token,
    // each with the brace depth its body runs at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut pending_mod: Option<String> = None;
    let mut depth = 0usize;
    let ident = |i: usize| match tokens.get(i).map(|t| &t.kind) {
        Some(Kind::Ident(s)) => Some(s.as_str()),
        _ => None,
    };
    let is = |i: usize, k: Kind| tokens.get(i).map(|t| &t.kind) == Some(&k);

    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].kind {
            Kind::Open => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    inline.push((name, depth));
                }
            }
            Kind::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            // `mod name { ... }` opens an inline module; `mod name;` a file.
            Kind::Ident(w) if w == "mod" && is(i + 2, Kind::Open) => {
                pending_mod = ident(i + 1).map(str::to_owned);
            }
            _ => {}
        }

        let path_start = i == 0 || !is(i - 1, Kind::PathSep);
        let root_len = match ident(i) {
            Some("crate") if path_start && is(i + 1, Kind::PathSep) => Some((0usize, i + 2)),
            Some("super") if path_start && is(i + 1, Kind::PathSep) => {
                let here = file_path.len() + inline.len();
                let mut j = i;
                let mut ups = 0;
                while ident(j) == Some("super") && is(j + 1, Kind::PathSep) {
                    ups += 1;
                    j += 2;
                }
                Some((here.saturating_sub(ups), j))
            }
            _ => None,
        };
        let Some((remaining_depth, next)) = root_len else {
            i += 1;
            continue;
        };
        if remaining_depth > 0 {
            // Still inside the same top-level module: not an arrow.
            i = next;
            continue;
        }
        let line = tokens[i].line;
        if let Some(name) = ident(next) {
            out.push(Reference {
                target: Target::Module(name.to_owned()),
                line,
            });
            i = next;
        } else if is(next, Kind::Star) {
            out.push(Reference {
                target: Target::Glob,
                line,
            });
            i = next;
        } else if is(next, Kind::Open) {
            // A use group: the first name of each comma-separated element.
            depth += 1;
            let group_depth = depth;
            let mut j = next + 1;
            let mut element_start = true;
            while j < tokens.len() && depth >= group_depth {
                match &tokens[j].kind {
                    Kind::Open => depth += 1,
                    Kind::Close => depth -= 1,
                    Kind::Comma if depth == group_depth => {
                        element_start = true;
                        j += 1;
                        continue;
                    }
                    Kind::Ident(name) if element_start && name != "self" => {
                        out.push(Reference {
                            target: Target::Module(name.clone()),
                            line: tokens[j].line,
                        });
                    }
                    Kind::Star if element_start => out.push(Reference {
                        target: Target::Glob,
                        line: tokens[j].line,
                    }),
                    _ => {}
                }
                element_start = false;
                j += 1;
            }
            i = j;
        } else {
            i = next;
        }
    }
    out
}
