//! Mailbox commands end to end over the real binary: CREATE, DELETE,
//! RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (basic, extended, LIST-STATUS),
//! LSUB, XLIST, STATUS and APPEND (MULTIAPPEND, APPENDUID, literal8, UTF8),
//! plus a check that names, headers, bodies and keywords never reach the
//! disk in the clear.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const USER: &str = "alice";
const PW: &str = "pw for alice";

/// A logged-in IMAPS session on a fresh account.
fn session(root: &Root) -> Session {
    Session::login(root, USER, PW)
}

/// The tagged answer of a command, without its tag.
fn st(c: &mut Client, text: &str) -> String {
    let line = c.status(text);
    line.split_once(' ')
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or(line)
}

fn fresh(label: &str) -> Root {
    let root = Root::new(label);
    root.add_user(USER, PW);
    root
}

/// `APPEND mailbox` with one message per entry of `parts`: each is the text
/// before the literal (flags, date, maybe `UTF8 (`), the message, the text
/// after it, and whether it is a literal8. The command is written out with
/// its literals inline, read by the library's parser and sent by its
/// encoder; returns the response texts.
fn append(c: &mut Client, mailbox: &str, parts: &[(&str, &[u8], &str, bool)]) -> Vec<String> {
    let mut out = format!("APPEND {mailbox}").into_bytes();
    for (before, data, after, binary) in parts {
        out.extend_from_slice(b" ");
        out.extend_from_slice(before.as_bytes());
        if !before.is_empty() && !before.ends_with('(') {
            out.push(b' ');
        }
        if *binary {
            out.push(b'~');
        }
        out.extend_from_slice(format!("{{{}+}}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(after.as_bytes());
    }
    texts(&c.try_run_bytes(&out).expect("server alive"))
}

/// One stored message as the store library sees it.
struct Stored {
    uid: u32,
    raw: Vec<u8>,
    flags: Vec<String>,
    internal_secs: i64,
}

/// Reads every message of `mailbox` back through the store library.
fn read_back(root: &Root, mailbox: &str) -> Vec<Stored> {
    use crymap_like::store::account::{AccountLog, MailboxName};
    use crymap_like::store::mailbox::{Mailbox, UserKeys};
    use crymap_like::store::user_file::UserFile;
    let dir = std::fs::canonicalize(root.path().join("users").join(USER)).unwrap();
    let master = UserFile::load(&dir).unwrap().unlock(PW.as_bytes()).unwrap();
    let account = AccountLog::open(&dir, &master).unwrap();
    let info = account
        .state()
        .mailbox(&MailboxName::parse(mailbox).unwrap())
        .unwrap()
        .clone();
    let mb = Mailbox::open(
        UserKeys::new(&dir, master),
        &dir,
        &info.id,
        info.uid_validity,
    )
    .unwrap();
    mb.uids()
        .map(|uid| {
            let i = mb.info(uid).unwrap();
            Stored {
                uid: uid.get(),
                raw: mb.open_message(uid).unwrap().read_all().unwrap(),
                flags: i.flags.iter().map(|f| format!("{f:?}")).collect(),
                internal_secs: i.internal.unix_secs,
            }
        })
        .collect()
}

fn list_names(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| {
            l.starts_with("* LIST ") || l.starts_with("* LSUB ") || l.starts_with("* XLIST ")
        })
        .map(|l| l.rsplit_once("\"/\" ").unwrap().1.replace('"', ""))
        .collect()
}

fn line_for<'a>(lines: &'a [String], name: &str) -> &'a str {
    lines
        .iter()
        .find(|l| {
            l.ends_with(&format!("\"/\" \"{name}\"")) || l.contains(&format!("\"/\" \"{name}\" ("))
        })
        .unwrap_or_else(|| panic!("no line for {name} in {lines:?}"))
}

#[test]
fn rfc9051_6_1_1_capabilities_are_advertised_after_login() {
    let root = fresh("mbox-caps");
    let mut c = session(&root);
    let caps = c.cmd("CAPABILITY");
    for cap in [
        "CHILDREN",
        "MULTIAPPEND",
        "LIST-EXTENDED",
        "LIST-STATUS",
        "SPECIAL-USE",
        "CREATE-SPECIAL-USE",
        "STATUS=SIZE",
        "APPENDLIMIT=67108864",
        "XLIST",
    ] {
        assert!(caps[0].split(' ').any(|c| c == cap), "{cap} in {caps:?}");
    }
}

#[test]
fn rfc9051_6_3_4_create_list_and_delete() {
    let root = fresh("mbox-create");
    let mut c = session(&root);

    let all = c.cmd("LIST \"\" \"*\"");
    assert_eq!(
        list_names(&all),
        ["INBOX", "Archive", "Drafts", "Sent", "Spam", "Trash"],
        "{all:?}"
    );
    assert!(line_for(&all, "Spam").contains("\\Junk"), "{all:?}");
    assert!(
        line_for(&all, "INBOX").contains("(\\HasNoChildren)"),
        "{all:?}"
    );
    assert_eq!(
        c.cmd("LIST \"\" \"\""),
        ["* LIST (\\Noselect) \"/\" \"\"", "t3 OK LIST completed"]
    );

    let ok = c.status("CREATE Work/");
    assert!(ok.starts_with("t4 OK [MAILBOXID ("), "{ok}");
    assert!(st(&mut c, "CREATE Work").starts_with("NO [ALREADYEXISTS]"));
    assert!(st(&mut c, "CREATE inbox").starts_with("NO [ALREADYEXISTS]"));
    let bad = c.status("CREATE \"a%b\"");
    assert!(
        bad.starts_with("t7 NO [CANNOT]") && bad.contains('%'),
        "{bad}"
    );
    assert!(st(&mut c, "CREATE .hidden").starts_with("NO [CANNOT]"));
    assert!(st(&mut c, "CREATE Proj/Sub/Deep").starts_with("OK"));
    assert!(st(&mut c, "CREATE Tpl (USE (\\Drafts))").starts_with("OK"));
    let useattr = c.status("CREATE Odd (USE (\\Bogus))");
    assert!(useattr.starts_with("t11 NO [USEATTR]"), "{useattr}");
    // UTF-8 names travel as modified UTF-7.
    assert!(st(&mut c, "CREATE &AMQ-pfel").starts_with("OK"));

    let top = c.cmd("LIST \"\" \"%\"");
    let names = list_names(&top);
    assert!(names.contains(&"Proj".to_owned()) && !names.contains(&"Proj/Sub".to_owned()));
    assert!(line_for(&top, "Proj").contains("\\HasChildren"), "{top:?}");
    assert!(
        line_for(&top, "Work").contains("\\HasNoChildren"),
        "{top:?}"
    );
    assert!(line_for(&top, "Tpl").contains("\\Drafts"), "{top:?}");
    assert!(names.contains(&"&AMQ-pfel".to_owned()), "{top:?}");
    assert!(!names.contains(&"Odd".to_owned()), "{top:?}");
    let sub = c.cmd("LIST Proj/ %");
    assert_eq!(list_names(&sub), ["Proj/Sub"], "{sub:?}");
    let inbox = c.cmd("LIST \"\" inbox");
    assert_eq!(list_names(&inbox), ["INBOX"], "{inbox:?}");
    assert!(st(&mut c, "CREATE INBOX/").starts_with("NO [ALREADYEXISTS]"));
    assert!(st(&mut c, "CREATE inbox/Sub").starts_with("OK"));
    let l = c.cmd("LIST \"\" \"Inbox*\"");
    assert_eq!(list_names(&l), ["INBOX", "INBOX/Sub"], "{l:?}");
    assert!(line_for(&l, "INBOX").contains("\\HasChildren"), "{l:?}");
    assert!(st(&mut c, "DELETE INBOX/Sub").starts_with("OK"));

    assert!(st(&mut c, "DELETE INBOX").starts_with("NO [CANNOT]"));
    assert!(st(&mut c, "DELETE Nope").starts_with("NO [NONEXISTENT]"));
    // A mailbox with inferiors goes; its name stays as a \Noselect parent.
    assert!(st(&mut c, "DELETE Proj").starts_with("OK"));
    let after = c.cmd("LIST \"\" \"Proj*\"");
    assert_eq!(list_names(&after), ["Proj", "Proj/Sub", "Proj/Sub/Deep"]);
    assert!(
        line_for(&after, "Proj").contains("(\\Noselect \\HasChildren)"),
        "{after:?}"
    );
    let ext = c.cmd("LIST \"\" (\"Proj\")");
    assert!(line_for(&ext, "Proj").contains("\\NonExistent"), "{ext:?}");
    assert!(st(&mut c, "DELETE Proj").starts_with("NO [NONEXISTENT]"));
    assert!(st(&mut c, "STATUS Proj (MESSAGES)").starts_with("NO [NONEXISTENT]"));
    // Recreating the deleted parent is allowed and gives a new mailbox.
    assert!(st(&mut c, "CREATE Proj").starts_with("OK"));
    assert!(st(&mut c, "DELETE Proj/Sub/Deep").starts_with("OK"));
    assert!(st(&mut c, "DELETE Proj/Sub").starts_with("OK"));
    let gone = c.cmd("LIST \"\" \"Proj*\"");
    assert_eq!(list_names(&gone), ["Proj"], "{gone:?}");
    assert!(
        line_for(&gone, "Proj").contains("(\\HasNoChildren)"),
        "{gone:?}"
    );
}

#[test]
fn rfc9051_6_3_5_delete_of_the_selected_mailbox_is_allowed() {
    let root = fresh("mbox-delsel");
    seed(&root, USER, PW, "Doomed", &[b"Subject: x\r\n\r\nbody\r\n"]);
    let mut c = session(&root);
    let sel = c.cmd("SELECT Doomed");
    if sel.last().unwrap().starts_with("t2 OK") {
        assert!(st(&mut c, "DELETE Doomed").starts_with("OK"));
        assert!(list_names(&c.cmd("LIST \"\" Doomed")).is_empty());
    } else {
        // SELECT belongs to another command group; DELETE must work anyway.
        assert!(st(&mut c, "DELETE Doomed").starts_with("OK"));
    }
}

#[test]
fn rfc9051_6_3_6_rename_with_children_and_inbox() {
    let root = fresh("mbox-rename");
    seed(
        &root,
        USER,
        PW,
        "INBOX",
        &[b"Subject: one\r\n\r\n1\r\n", b"Subject: two\r\n\r\n2\r\n"],
    );
    seed(&root, USER, PW, "A/B", &[b"Subject: b\r\n\r\nb\r\n"]);
    let mut c = session(&root);

    assert!(st(&mut c, "RENAME A Z").starts_with("OK"));
    let l = c.cmd("LIST \"\" \"*\"");
    let names = list_names(&l);
    assert!(
        names.contains(&"Z".to_owned()) && names.contains(&"Z/B".to_owned()),
        "{l:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with('A') && n != "Archive"),
        "{l:?}"
    );
    assert!(st(&mut c, "STATUS Z/B (MESSAGES)").starts_with("OK"));
    assert!(st(&mut c, "RENAME Nope X").starts_with("NO [NONEXISTENT]"));
    assert!(st(&mut c, "RENAME Z Sent").starts_with("NO [ALREADYEXISTS]"));
    assert!(st(&mut c, "RENAME Z Z/Q").starts_with("NO [CANNOT]"));
    assert!(st(&mut c, "RENAME Z INBOX").starts_with("NO [ALREADYEXISTS]"));
    // Into a new hierarchy: the missing superior appears.
    assert!(st(&mut c, "RENAME Z New/Place").starts_with("OK"));
    let l = c.cmd("LIST \"\" \"New*\"");
    assert_eq!(list_names(&l), ["New", "New/Place", "New/Place/B"], "{l:?}");

    // RENAME INBOX moves its messages and leaves it empty.
    assert!(st(&mut c, "RENAME INBOX Old").starts_with("OK"));
    let s = c.cmd("STATUS INBOX (MESSAGES)");
    assert_eq!(s[0], "* STATUS \"INBOX\" (MESSAGES 0)");
    let s = c.cmd("STATUS Old (MESSAGES)");
    assert_eq!(s[0], "* STATUS \"Old\" (MESSAGES 2)");
    c.cmd("LOGOUT");
    let old = read_back(&root, "Old");
    assert_eq!(old[0].raw, b"Subject: one\r\n\r\n1\r\n");
    assert_eq!(old[1].raw, b"Subject: two\r\n\r\n2\r\n");
    assert!(read_back(&root, "INBOX").is_empty());
}

#[test]
fn rfc5258_subscriptions_lsub_and_extended_list() {
    let root = fresh("mbox-subs");
    let mut c = session(&root);
    assert!(st(&mut c, "CREATE Work").starts_with("OK"));
    assert!(st(&mut c, "CREATE Proj/Sub").starts_with("OK"));
    assert!(st(&mut c, "SUBSCRIBE Work").starts_with("OK"));
    assert!(st(&mut c, "SUBSCRIBE Proj/Sub").starts_with("OK"));
    assert!(st(&mut c, "SUBSCRIBE Ghost").starts_with("OK"));

    let l = c.cmd("LSUB \"\" \"*\"");
    assert_eq!(
        list_names(&l),
        ["INBOX", "Archive", "Drafts", "Ghost", "Proj/Sub", "Sent", "Spam", "Trash", "Work"],
        "{l:?}"
    );
    assert!(line_for(&l, "Work").starts_with("* LSUB () "), "{l:?}");
    assert!(
        line_for(&l, "Ghost").starts_with("* LSUB (\\Noselect) "),
        "{l:?}"
    );
    let l = c.cmd("LSUB \"\" \"%\"");
    assert_eq!(
        list_names(&l),
        ["INBOX", "Archive", "Drafts", "Ghost", "Proj", "Sent", "Spam", "Trash", "Work"],
        "{l:?}"
    );
    assert!(line_for(&l, "Proj").contains("(\\Noselect)"), "{l:?}");

    let l = c.cmd("LIST (SUBSCRIBED) \"\" (\"G*\" \"P*\" \"W*\")");
    assert_eq!(list_names(&l), ["Ghost", "Proj/Sub", "Work"], "{l:?}");
    assert!(line_for(&l, "Ghost").contains("\\NonExistent"), "{l:?}");
    assert!(line_for(&l, "Work").contains("\\Subscribed"), "{l:?}");
    let l = c.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"G%\" \"P%\" \"W%\")");
    assert_eq!(
        list_names(&l),
        ["Ghost", "Proj (CHILDINFO (SUBSCRIBED))", "Work"],
        "{l:?}"
    );
    assert!(
        line_for(&l, "Proj").ends_with("\"Proj\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"),
        "{l:?}"
    );
    assert!(!line_for(&l, "Proj").contains("\\Subscribed"), "{l:?}");
    let l = c.cmd("LIST \"\" \"*\" RETURN (SUBSCRIBED CHILDREN)");
    assert!(line_for(&l, "Work").contains("\\Subscribed"), "{l:?}");
    assert!(!line_for(&l, "Proj").contains("\\Subscribed"), "{l:?}");
    assert!(line_for(&l, "Proj").contains("\\HasChildren"), "{l:?}");
    let l = c.cmd("LIST (SPECIAL-USE) \"\" \"*\"");
    assert_eq!(
        list_names(&l),
        ["Archive", "Drafts", "Sent", "Spam", "Trash"],
        "{l:?}"
    );
    let l = c.cmd("LIST \"\" (\"Work\" \"Sent\" \"W*\")");
    assert_eq!(list_names(&l), ["Sent", "Work"], "{l:?}");

    assert!(st(&mut c, "UNSUBSCRIBE Work").starts_with("OK"));
    assert!(st(&mut c, "UNSUBSCRIBE Work").starts_with("OK"));
    let l = c.cmd("LSUB \"\" \"*o*\"");
    assert_eq!(list_names(&l), ["INBOX", "Ghost", "Proj/Sub"], "{l:?}");
    let x = c.cmd("XLIST \"\" \"*\"");
    assert!(line_for(&x, "INBOX").contains("\\Inbox"), "{x:?}");
    assert!(line_for(&x, "Spam").contains("\\Spam"), "{x:?}");
    assert!(
        x.iter()
            .all(|l| !l.starts_with('*') || l.starts_with("* XLIST ")),
        "{x:?}"
    );
}

#[test]
fn rfc9051_6_3_11_status_items_and_rfc5819_list_status() {
    let root = fresh("mbox-status");
    let msgs: [&[u8]; 2] = [
        b"Subject: a\r\n\r\nabc\r\n",
        b"Subject: bb\r\n\r\nlonger body\r\n",
    ];
    seed(&root, USER, PW, "Box", &msgs);
    let mut c = session(&root);
    let third = b"Subject: c\r\n\r\nthird\r\n";
    let a = append(&mut c, "Box", &[("(\\Seen \\Deleted)", third, "", false)]);
    assert!(a.last().unwrap().contains(" OK [APPENDUID "), "{a:?}");
    let s = c.cmd(
        "STATUS Box (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ APPENDLIMIT MAILBOXID)",
    );
    let size = msgs.iter().map(|m| m.len()).sum::<usize>() + third.len();
    let line = &s[0];
    assert!(
        line.starts_with("* STATUS \"Box\" (MESSAGES 3 RECENT 3 UIDNEXT 4 UIDVALIDITY "),
        "{line}"
    );
    assert!(line.contains(" UNSEEN 2 DELETED 1 "), "{line}");
    assert!(line.contains(&format!(" SIZE {size} ")), "{line}");
    assert!(line.contains(" HIGHESTMODSEQ "), "{line}");
    assert!(line.contains(" APPENDLIMIT 67108864 MAILBOXID ("), "{line}");
    assert!(s[1].starts_with("t3 OK"), "{s:?}");
    let ids = c.cmd("STATUS Box (MAILBOXID UIDVALIDITY)");
    let v = c.cmd("STATUS Box (UIDVALIDITY)");
    let validity = v[0].split(' ').nth(4).unwrap().trim_end_matches(')');
    assert!(
        ids[0].ends_with(&format!("UIDVALIDITY {validity})")),
        "{ids:?}"
    );

    let l = c.cmd("LIST \"\" \"B*\" RETURN (STATUS (MESSAGES UNSEEN))");
    assert_eq!(l[0], "* LIST (\\HasNoChildren) \"/\" \"Box\"", "{l:?}");
    assert_eq!(l[1], "* STATUS \"Box\" (MESSAGES 3 UNSEEN 2)", "{l:?}");
    assert!(l[2].starts_with("t6 OK"), "{l:?}");
    assert!(st(&mut c, "STATUS Nothing (MESSAGES)").starts_with("NO [NONEXISTENT]"));
    let empty = c.cmd("STATUS Trash (MESSAGES UNSEEN SIZE HIGHESTMODSEQ)");
    assert!(
        empty[0].starts_with("* STATUS \"Trash\" (MESSAGES 0 UNSEEN 0 SIZE 0 HIGHESTMODSEQ "),
        "{empty:?}"
    );
}

#[test]
fn rfc9051_6_3_12_append_forms_are_stored_byte_for_byte() {
    let root = fresh("mbox-append");
    let mut c = session(&root);
    // 8-bit header bytes need UTF8=ACCEPT (RFC 6855 §4); see
    // tests/rfc3516_rfc6855_append.rs for the refusal without it.
    c.ok("ENABLE UTF8=ACCEPT");
    let plain = b"From: a@example.org\r\nSubject: plain\r\n\r\nHello\r\n".to_vec();
    let weird = b"Subject: \xc3\xa4 8-bit\nbare LF\n\x00NUL inside\r\nno separator".to_vec();
    let utf8 = "Subject: caf\u{e9}\r\n\r\nUTF-8 body \u{2603}\r\n"
        .as_bytes()
        .to_vec();
    let empty: Vec<u8> = Vec::new();

    let r = append(
        &mut c,
        "INBOX",
        &[(
            "(\\Flagged $Label \\Recent) \"14-Jul-2021 10:20:30 +0200\"",
            &plain,
            "",
            false,
        )],
    );
    let tagged = r.last().unwrap();
    assert!(tagged.contains(" OK [APPENDUID "), "{r:?}");
    assert!(tagged.contains(" 1] "), "{tagged}");
    let r = append(&mut c, "INBOX", &[("", &weird, "", true)]);
    assert!(r.last().unwrap().contains(" 2] "), "{r:?}");
    let r = append(&mut c, "INBOX", &[("UTF8 (", &utf8, ")", true)]);
    assert!(r.last().unwrap().contains(" 3] "), "{r:?}");
    let r = append(&mut c, "INBOX", &[("", &empty, "", false)]);
    assert!(r.last().unwrap().contains(" 4] "), "{r:?}");
    // MULTIAPPEND: one response code naming every new UID.
    let r = append(
        &mut c,
        "INBOX",
        &[
            ("(\\Seen)", b"Subject: m1\r\n\r\n1\r\n", "", false),
            ("", b"Subject: m2\r\n\r\n2\r\n", "", false),
        ],
    );
    assert!(r.last().unwrap().contains(" 5:6] "), "{r:?}");

    let r = append(&mut c, "Missing", &[("", b"x", "", false)]);
    assert!(r.last().unwrap().contains(" NO [TRYCREATE]"), "{r:?}");
    let r = append(&mut c, "INBOX", &[("(\\Bogus)", b"x", "", false)]);
    assert!(r.last().unwrap().contains(" BAD"), "{r:?}");
    let r = append(&mut c, "\"a*b\"", &[("", b"x", "", false)]);
    assert!(r.last().unwrap().contains(" NO [CANNOT]"), "{r:?}");
    c.cmd("LOGOUT");

    let got = read_back(&root, "INBOX");
    assert_eq!(got.len(), 6);
    assert_eq!(got[0].raw, plain);
    assert_eq!(got[1].raw, weird);
    assert_eq!(got[2].raw, utf8);
    assert_eq!(got[3].raw, empty);
    assert_eq!(got[0].flags, ["Flagged", "Keyword(\"$Label\")"]);
    assert_eq!(got[0].internal_secs, 1_626_250_830);
    assert_eq!(got[4].flags, ["Seen"]);
    assert!(got[5].flags.is_empty());
    assert_eq!(
        got.iter().map(|s| s.uid).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
}

#[test]
fn rfc3502_multiappend_is_all_or_nothing() {
    let root = fresh("mbox-multi");
    root.set("limits", "max_message_size = 1000");
    let mut c = session(&root);
    let big = vec![b'x'; 1500];
    let r = append(
        &mut c,
        "INBOX",
        &[
            ("", b"Subject: ok\r\n\r\nfine\r\n", "", false),
            ("", &big, "", false),
        ],
    );
    assert!(r.last().unwrap().contains(" NO [TOOBIG]"), "{r:?}");
    let s = c.cmd("STATUS INBOX (MESSAGES APPENDLIMIT)");
    assert_eq!(s[0], "* STATUS \"INBOX\" (MESSAGES 0 APPENDLIMIT 1000)");

    // The second message needs more keywords than a mailbox can hold: the
    // first is stored, then removed again when the second fails.
    let kw = |p: &str, n: usize| -> String {
        let k: Vec<String> = (0..n).map(|i| format!("{p}{i}")).collect();
        format!("({})", k.join(" "))
    };
    let (first, second) = (kw("a", 40), kw("b", 40));
    let r = append(
        &mut c,
        "INBOX",
        &[
            (&first, b"Subject: 1\r\n\r\n1\r\n", "", false),
            (&second, b"Subject: 2\r\n\r\n2\r\n", "", false),
        ],
    );
    assert!(r.last().unwrap().contains(" NO [LIMIT]"), "{r:?}");
    let s = c.cmd("STATUS INBOX (MESSAGES)");
    assert_eq!(s[0], "* STATUS \"INBOX\" (MESSAGES 0)");
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            files_under(&p, out);
        } else if ft.is_file() {
            out.push(p);
        }
    }
}

#[test]
fn confidentiality_nothing_reaches_disk_in_the_clear() {
    let root = fresh("mbox-leak");
    let mut c = session(&root);
    let (name_mark, subj_mark, body_mark, kw_mark) = (
        "QzxMboxNameMark7",
        "QzxSubjectMark3",
        "QzxBodyMark8",
        "QzxKeywordMark5",
    );
    assert!(st(&mut c, &format!("CREATE {name_mark}")).starts_with("OK"));
    assert!(st(&mut c, &format!("SUBSCRIBE {name_mark}")).starts_with("OK"));
    let msg = format!("Subject: {subj_mark}\r\n\r\n{body_mark}\r\n");
    let r = append(
        &mut c,
        name_mark,
        &[(&format!("({kw_mark})"), msg.as_bytes(), "", false)],
    );
    assert!(r.last().unwrap().contains(" OK"), "{r:?}");
    c.cmd("LOGOUT");
    assert_eq!(read_back(&root, name_mark).len(), 1);

    let dir = std::fs::canonicalize(root.path().join("users").join(USER)).unwrap();
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    assert!(files.len() > 3, "{files:?}");
    for f in files {
        let data = std::fs::read(&f).unwrap();
        for mark in [name_mark, subj_mark, body_mark, kw_mark] {
            assert!(
                !data.windows(mark.len()).any(|w| w == mark.as_bytes()),
                "{mark} in clear in {}",
                f.display()
            );
        }
    }
}
