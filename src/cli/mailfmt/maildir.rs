//! Maildir and Maildir++ (Dovecot, Courier, mutt, isync): reading a tree
//! into messages, and writing one folder. A folder is a directory with
//! `cur/` and `new/`; Maildir++ subfolders are `.A.B` directories beside
//! the top folder's `cur/` (names in modified UTF-7 or UTF-8); plain
//! subdirectories that are Maildirs (mutt, Dovecot's `LAYOUT=fs`) are
//! subfolders too. Flags come from the `:2,` suffix (`D F P R S T`, and
//! `a`–`z` as keywords through the folder's `dovecot-keywords`), and from
//! Courier-IMAP's `courierimapkeywords/`; the
//! arrival date is the file's mtime, as Dovecot uses it. Symbolic links
//! are never followed while walking, so a link loop cannot trap the walk.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{decode_component, Content, FolderPath, Skipped, SourceMessage};
use crate::store::types::{Flag, InternalDate};

/// Whether `dir` is a Maildir folder.
pub(crate) fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

/// What a walk found.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    /// Every folder, including empty ones, in walk order.
    pub folders: Vec<FolderPath>,
    /// Every message.
    pub messages: Vec<SourceMessage>,
    /// What could not be read.
    pub skipped: Vec<Skipped>,
}

/// Reads the Maildir tree at `root`; its top folder is `base`.
pub(crate) fn read_tree(root: &Path, base: &FolderPath) -> Tree {
    let mut tree = Tree::default();
    read_folder(root, base.clone(), true, &mut tree);
    tree
}

fn skip(tree: &mut Tree, path: &Path, reason: impl Into<String>) {
    tree.skipped.push(Skipped {
        origin: path.display().to_string(),
        reason: reason.into(),
    });
}

fn read_folder(dir: &Path, folder: FolderPath, top: bool, tree: &mut Tree) {
    tree.folders.push(folder.clone());
    let keywords = read_keywords(dir);
    let courier = read_courier_keywords(dir);
    for sub in ["new", "cur"] {
        let d = dir.join(sub);
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                skip(tree, &d, format!("cannot list: {e}"));
                continue;
            }
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some(name) = name else { continue };
            if name.starts_with('.') {
                continue;
            }
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    skip(tree, &path, format!("cannot read: {e}"));
                    continue;
                }
            };
            if !meta.is_file() {
                skip(tree, &path, "not a regular file");
                continue;
            }
            let mut flags = flags_of(&name, &keywords);
            for k in courier.get(base_of(&name)).into_iter().flatten() {
                if let Some(f) = Flag::keyword(k) {
                    if !flags.iter().any(|g| g.same_as(&f)) {
                        flags.push(f);
                    }
                }
            }
            tree.messages.push(SourceMessage {
                origin: path.display().to_string(),
                folder: folder.clone(),
                size: meta.len(),
                flags,
                internal: Some(InternalDate {
                    unix_secs: meta.mtime(),
                    offset_minutes: 0,
                }),
                content: Content::File(path),
            });
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, _)| !matches!(n.as_str(), "cur" | "new" | "tmp" | "." | ".."))
        .collect();
    subs.sort();
    for (name, path) in subs {
        if let Some(plus) = name.strip_prefix('.') {
            // Maildir++: only beside the top folder, hierarchy by dots.
            if top && !plus.is_empty() && is_maildir(&path) {
                let mut f = folder.clone();
                f.extend(plus.split('.').map(|c| decode_component(c.as_bytes())));
                read_folder(&path, f, false, tree);
            }
        } else if is_maildir(&path) && !name.starts_with("courierimap") {
            let mut f = folder.clone();
            f.push(decode_component(name.as_bytes()));
            read_folder(&path, f, false, tree);
        }
    }
}

/// A keywords file's text; `None` if absent, not UTF-8, or not a regular
/// file of at most 1 MiB (the Maildir may be the user's own: a FIFO or a
/// link planted there is never waited on or followed).
fn read_small(path: &Path) -> Option<String> {
    let bytes = crate::sys::durable::read_bounded(path, 1024 * 1024).ok()?;
    String::from_utf8(bytes).ok()
}

/// Dovecot's `dovecot-keywords`: lines `N name`, N from 0 for `a`.
fn read_keywords(dir: &Path) -> BTreeMap<u8, String> {
    let mut out = BTreeMap::new();
    let Some(text) = read_small(&dir.join("dovecot-keywords")) else {
        return out;
    };
    for line in text.lines() {
        let mut it = line.splitn(2, ' ');
        if let (Some(n), Some(name)) = (it.next(), it.next()) {
            if let Ok(n) = n.parse::<u8>() {
                if n < 26 {
                    out.insert(n, name.trim().to_owned());
                }
            }
        }
    }
    out
}

/// A message file name without its `:2,` (or `!2,`) flags.
fn base_of(name: &str) -> &str {
    name.rsplit_once(":2,")
        .or_else(|| name.rsplit_once("!2,"))
        .map_or(name, |(b, _)| b)
}

/// Courier-IMAP's keywords: `courierimapkeywords/:list` holds the keyword
/// names, one per line, then an empty line, then `BASE:N N ...` lines
/// giving each message (by file name without flags) its keywords by
/// index; a file `courierimapkeywords/.N.BASE` or `courierimapkeywords/BASE`
/// (an update not yet merged into `:list`) names one message's keywords,
/// one per line, and replaces what `:list` says for it.
fn read_courier_keywords(dir: &Path) -> std::collections::HashMap<String, Vec<String>> {
    let mut out = std::collections::HashMap::new();
    let kdir = dir.join("courierimapkeywords");
    if let Some(text) = read_small(&kdir.join(":list")) {
        let mut lines = text.lines();
        let names: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
        for line in lines {
            if let Some((base, idx)) = line.rsplit_once(':') {
                let kws = idx
                    .split_whitespace()
                    .filter_map(|i| i.parse::<usize>().ok())
                    .filter_map(|i| names.get(i).map(|k| (*k).to_owned()))
                    .collect();
                out.insert(base.to_owned(), kws);
            }
        }
    }
    for e in std::fs::read_dir(&kdir).into_iter().flatten().flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        if file == ":list" {
            continue;
        }
        // `.N.BASE` (numbered update) or `BASE`.
        let base = match file.strip_prefix('.') {
            Some(rest) => rest.split_once('.').map_or(rest, |(_, b)| b).to_owned(),
            None => file,
        };
        if let Some(text) = read_small(&e.path()) {
            let kws = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            out.insert(base_of(&base).to_owned(), kws);
        }
    }
    out
}

/// The flags a file name carries after `:2,` (or `!2,`, a common variant
/// on file systems without colons).
pub(crate) fn flags_of(name: &str, keywords: &BTreeMap<u8, String>) -> Vec<Flag> {
    let info = name
        .rsplit_once(":2,")
        .or_else(|| name.rsplit_once("!2,"))
        .map_or("", |(_, f)| f);
    let mut flags = Vec::new();
    for c in info.chars() {
        let f = match c {
            'D' => Some(Flag::Draft),
            'F' => Some(Flag::Flagged),
            'R' => Some(Flag::Answered),
            'S' => Some(Flag::Seen),
            'T' => Some(Flag::Deleted),
            'P' => Flag::keyword("$Forwarded"),
            'a'..='z' => keywords
                .get(&(c as u8 - b'a'))
                .and_then(|k| Flag::keyword(k)),
            _ => None,
        };
        if let Some(f) = f {
            if !flags.iter().any(|g: &Flag| g.same_as(&f)) {
                flags.push(f);
            }
        }
    }
    flags
}

/// Writes messages into one Maildir folder, creating it.
pub(crate) struct FolderWriter {
    dir: PathBuf,
    keywords: Vec<String>,
    counter: u64,
}

impl FolderWriter {
    /// Creates `dir` with `cur`, `new` and `tmp`.
    pub(crate) fn create(dir: &Path) -> std::io::Result<FolderWriter> {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        Ok(FolderWriter {
            dir: dir.to_path_buf(),
            keywords: Vec::new(),
            counter: 0,
        })
    }

    /// Writes one message with its flags; its mtime becomes `internal`.
    /// Keywords beyond the 26 letters Maildir has are dropped and named in
    /// the result.
    pub(crate) fn write(
        &mut self,
        content: &[u8],
        flags: &[Flag],
        internal: InternalDate,
    ) -> std::io::Result<Vec<String>> {
        let mut letters = String::new();
        let mut dropped = Vec::new();
        let mut system: Vec<char> = Vec::new();
        let mut kw: Vec<char> = Vec::new();
        for f in flags {
            match f {
                Flag::Draft => system.push('D'),
                Flag::Flagged => system.push('F'),
                Flag::Answered => system.push('R'),
                Flag::Seen => system.push('S'),
                Flag::Deleted => system.push('T'),
                Flag::Keyword(k) if k.eq_ignore_ascii_case("$Forwarded") => system.push('P'),
                Flag::Keyword(k) => {
                    let i = match self.keywords.iter().position(|x| x.eq_ignore_ascii_case(k)) {
                        Some(i) => i,
                        None if self.keywords.len() < 26 => {
                            self.keywords.push(k.clone());
                            self.keywords.len() - 1
                        }
                        None => {
                            dropped.push(k.clone());
                            continue;
                        }
                    };
                    kw.push((b'a' + i as u8) as char);
                }
            }
        }
        system.sort_unstable();
        kw.sort_unstable();
        letters.extend(system);
        letters.extend(kw);
        self.counter += 1;
        let base = format!(
            "{}.M{}P{}.crymap-like",
            internal.unix_secs,
            self.counter,
            std::process::id()
        );
        let tmp = self.dir.join("tmp").join(&base);
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        let when = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(internal.unix_secs).unwrap_or(0));
        f.set_modified(when)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(
            &tmp,
            self.dir.join("cur").join(format!("{base}:2,{letters}")),
        )?;
        Ok(dropped)
    }

    /// Writes `dovecot-keywords` for the letters used.
    pub(crate) fn finish(self) -> std::io::Result<()> {
        if self.keywords.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for (i, k) in self.keywords.iter().enumerate() {
            text.push_str(&format!("{i} {k}\n"));
        }
        std::fs::write(self.dir.join("dovecot-keywords"), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_from_names() {
        let mut kw = BTreeMap::new();
        kw.insert(0, "$Junk".to_owned());
        kw.insert(2, "work".to_owned());
        let f = flags_of("1700000000.M1P2.host,S=12:2,FRSac", &kw);
        assert_eq!(
            f,
            vec![
                Flag::Flagged,
                Flag::Answered,
                Flag::Seen,
                Flag::keyword("$Junk").unwrap(),
                Flag::keyword("work").unwrap()
            ]
        );
        assert!(flags_of("1700000000.M1P2.host", &kw).is_empty());
        assert_eq!(flags_of("x!2,T", &kw), vec![Flag::Deleted]);
    }

    #[test]
    fn courier_keywords_from_list_and_update_files() {
        let dir = std::env::temp_dir().join(format!("crymap-like-courier-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let kdir = dir.join("courierimapkeywords");
        std::fs::create_dir_all(&kdir).unwrap();
        std::fs::write(kdir.join(":list"), "work\n$Junk\n\n1.M1.h:0 1\n2.M2.h:1\n").unwrap();
        std::fs::write(kdir.join(".7.2.M2.h"), "later\n").unwrap();
        let k = read_courier_keywords(&dir);
        assert_eq!(k["1.M1.h"], vec!["work", "$Junk"]);
        assert_eq!(k["2.M2.h"], vec!["later"]);
        assert_eq!(base_of("1.M1.h:2,S"), "1.M1.h");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
