//! LIST (RFC 3501, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819,
//! SPECIAL-USE RFC 6154, CHILDREN RFC 3348), LSUB and Gmail's XLIST.
//!
//! Every form works over one snapshot of the account: the existing
//! mailboxes, the names of their missing superiors (left behind by a
//! DELETE of a mailbox with inferiors; they list as `\Noselect`, or
//! `\NonExistent` in extended LIST), and the subscription list. Owns no
//! state and writes only untagged responses.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::pattern::Pattern;
use super::refresh_account;
use super::status::status_response;
use crate::imap::context::{Ctx, Reply};
use crate::imap::wire::command::{ListCommand, ListReturnOpt, ListSelectOpt, StatusItem};
use crate::imap::wire::response::{EncodedMailbox, ListExtended, ListKind, ListResponse, Response};
use crate::store::account::{Account, MailboxName, SpecialUse};

/// What LIST knows about one name.
#[derive(Debug, Clone, Default)]
struct Node {
    /// A mailbox of this name exists (else it is only a superior's name).
    exists: bool,
    /// Some mailbox lies below it.
    has_children: bool,
    /// Special-use attributes of the mailbox.
    special_use: Vec<SpecialUse>,
}

/// The listable names of the account, INBOX included.
struct Tree {
    nodes: BTreeMap<String, Node>,
    subscribed: BTreeSet<String>,
}

impl Tree {
    fn new(account: &Account) -> Tree {
        let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
        for info in account.mailboxes() {
            let node = nodes.entry(info.name.as_str().to_owned()).or_default();
            node.exists = true;
            node.special_use = info.special_use.clone();
            for a in info.name.ancestors() {
                nodes.entry(a.as_str().to_owned()).or_default().has_children = true;
            }
        }
        let subscribed = account
            .subscriptions()
            .map(|n| n.as_str().to_owned())
            .collect();
        Tree { nodes, subscribed }
    }

    /// The node of `name`, or that of a name nothing is known about.
    fn node(&self, name: &str) -> Node {
        self.nodes.get(name).cloned().unwrap_or_default()
    }

    /// Whether a subscribed name lies strictly below `name`.
    /// Whether a subscribed descendant of `name` is left out of the reply
    /// (`listed` false for it): only then is CHILDINFO news to the client
    /// (RFC 5258 §3.5; Dovecot, imaptest `listext`).
    fn has_unlisted_subscribed_child(&self, name: &str, listed: impl Fn(&str) -> bool) -> bool {
        let prefix = format!("{name}/");
        self.subscribed
            .range(prefix.clone()..)
            .take_while(|s| s.starts_with(&prefix))
            .any(|s| !listed(s))
    }
}

/// Sorts names with INBOX first, as clients expect, then by name.
fn inbox_first(names: &mut [String]) {
    names.sort_by(|a, b| (a != "INBOX", a).cmp(&(b != "INBOX", b)));
}

/// One response line to write.
struct Line {
    name: String,
    attrs: Vec<&'static str>,
    childinfo: bool,
    status: bool,
}

impl Line {
    /// The line for `node`: `attrs` chosen by the LIST form, then the
    /// children and special-use attributes every form reports.
    fn new(name: String, node: &Node, mut attrs: Vec<&'static str>, childinfo: bool) -> Line {
        attrs.push(children_attr(node));
        attrs.extend(node.special_use.iter().map(|u| u.as_imap()));
        Line {
            status: node.exists,
            name,
            attrs,
            childinfo,
        }
    }
}

fn write_line(out: &mut Vec<u8>, kind: ListKind, line: &Line, utf8: bool) {
    let extended = if line.childinfo {
        vec![ListExtended::ChildInfo(vec![Cow::Borrowed("SUBSCRIBED")])]
    } else {
        Vec::new()
    };
    Response::List(ListResponse {
        kind,
        attributes: line.attrs.iter().map(|&a| Cow::Borrowed(a)).collect(),
        delimiter: Some('/'),
        mailbox: EncodedMailbox::new(&line.name, utf8),
        extended,
    })
    .encode(out);
}

/// `* LIST (\\Noselect) "/" ""`: the answer to an empty pattern, which
/// asks for the delimiter; the root of every reference is "" in this flat
/// namespace (RFC 3501 §6.3.8).
fn write_root(out: &mut Vec<u8>, kind: ListKind) {
    let line = Line {
        name: String::new(),
        attrs: vec!["\\Noselect"],
        childinfo: false,
        status: false,
    };
    write_line(out, kind, &line, false);
}

fn children_attr(node: &Node) -> &'static str {
    if node.has_children {
        "\\HasChildren"
    } else {
        "\\HasNoChildren"
    }
}

/// `LIST` in all its forms.
pub(crate) fn list(ctx: &mut Ctx, out: &mut Vec<u8>, cmd: &ListCommand) -> Reply {
    if let Err(r) = refresh_account(ctx) {
        return r;
    }
    let extended = !cmd.selection.is_empty() || cmd.multiple_patterns || cmd.return_opts.is_some();
    let sel_subscribed = cmd.selection.contains(&ListSelectOpt::Subscribed);
    let sel_special = cmd.selection.contains(&ListSelectOpt::SpecialUse);
    let recursive = cmd.selection.contains(&ListSelectOpt::RecursiveMatch);
    let returns = cmd.return_opts.as_deref().unwrap_or_default();
    let ret_subscribed = sel_subscribed || returns.contains(&ListReturnOpt::Subscribed);
    let mut status_items: Vec<StatusItem> = Vec::new();
    for r in returns {
        if let ListReturnOpt::Status(items) = r {
            for i in items {
                if !status_items.contains(i) {
                    status_items.push(*i);
                }
            }
        }
    }

    let mut patterns = Vec::new();
    let mut root_asked = false;
    for p in &cmd.patterns {
        if p.is_empty() {
            root_asked = true;
        } else {
            patterns.push(Pattern::new(&cmd.reference, p));
        }
    }
    if root_asked {
        write_root(out, ListKind::List);
    }
    let matches = |name: &str| patterns.iter().any(|p| p.matches(name));

    let tree = Tree::new(ctx.account.state());
    let mut lines: Vec<Line> = Vec::new();
    if sel_subscribed {
        let mut names: BTreeSet<String> = tree.subscribed.clone();
        if recursive {
            for s in &tree.subscribed {
                if let Ok(n) = MailboxName::parse(s) {
                    names.extend(n.ancestors().iter().map(|a| a.as_str().to_owned()));
                }
            }
        }
        let mut names: Vec<String> = names.into_iter().filter(|n| matches(n)).collect();
        inbox_first(&mut names);
        for name in names {
            let node = tree.node(&name);
            let is_sub = tree.subscribed.contains(&name);
            let childinfo = recursive && tree.has_unlisted_subscribed_child(&name, matches);
            if !is_sub && !childinfo {
                continue;
            }
            if sel_special && node.special_use.is_empty() {
                continue;
            }
            let mut attrs = Vec::new();
            if !node.exists {
                attrs.push("\\NonExistent");
            }
            if is_sub {
                attrs.push("\\Subscribed");
            }
            lines.push(Line::new(name, &node, attrs, childinfo));
        }
    } else {
        let mut names: Vec<String> = tree.nodes.keys().filter(|n| matches(n)).cloned().collect();
        inbox_first(&mut names);
        for name in names {
            let node = tree.node(&name);
            if sel_special && node.special_use.is_empty() {
                continue;
            }
            let mut attrs = Vec::new();
            if !node.exists {
                attrs.push(if extended {
                    "\\NonExistent"
                } else {
                    "\\Noselect"
                });
            }
            if ret_subscribed && tree.subscribed.contains(&name) {
                attrs.push("\\Subscribed");
            }
            lines.push(Line::new(name, &node, attrs, false));
        }
    }

    let utf8 = ctx.enabled.utf8_accept;
    for line in &lines {
        write_line(out, ListKind::List, line, utf8);
        if line.status && !status_items.is_empty() {
            let Ok(name) = MailboxName::parse(&line.name) else {
                continue;
            };
            // RFC 5819: a mailbox whose status cannot be had is listed
            // without it rather than failing the whole LIST.
            match status_response(ctx, &name, &status_items) {
                Ok(r) => r.encode(out),
                // Mailbox names are the user's content: never logged.
                Err(_) => {
                    log::warn!("LIST-STATUS: a mailbox's status is unavailable; listed without it")
                }
            }
        }
    }
    Reply::ok("LIST completed")
}

/// Gmail's XLIST names for special uses; the rest keep their RFC 6154 name.
fn xlist_attr(u: SpecialUse) -> &'static str {
    match u {
        SpecialUse::All => "\\AllMail",
        SpecialUse::Flagged => "\\Starred",
        SpecialUse::Junk => "\\Spam",
        other => other.as_imap(),
    }
}

/// `LSUB` (`xlist` false) and `XLIST` (`xlist` true).
pub(crate) fn lsub_or_xlist(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    reference: &str,
    pattern: &str,
    xlist: bool,
) -> Reply {
    if let Err(r) = refresh_account(ctx) {
        return r;
    }
    let kind = if xlist {
        ListKind::XList
    } else {
        ListKind::Lsub
    };
    let word = kind.as_str();
    if pattern.is_empty() {
        write_root(out, kind);
        return Reply::ok(format!("{word} completed"));
    }
    let pat = Pattern::new(reference, pattern);
    let tree = Tree::new(ctx.account.state());
    let mut lines = Vec::new();
    if xlist {
        let mut names: Vec<String> = tree
            .nodes
            .keys()
            .filter(|n| pat.matches(n))
            .cloned()
            .collect();
        inbox_first(&mut names);
        for name in names {
            let node = tree.node(&name);
            let mut attrs = Vec::new();
            if !node.exists {
                attrs.push("\\Noselect");
            }
            attrs.push(children_attr(&node));
            if name == "INBOX" {
                attrs.push("\\Inbox");
            }
            attrs.extend(node.special_use.iter().map(|u| xlist_attr(*u)));
            lines.push(Line {
                name,
                attrs,
                childinfo: false,
                status: false,
            });
        }
    } else {
        // RFC 3501 §6.3.9: with `%`, an unsubscribed superior of a
        // subscribed name the pattern does not reach is listed \Noselect.
        let mut names: BTreeSet<String> = BTreeSet::new();
        for s in &tree.subscribed {
            if pat.matches(s) {
                names.insert(s.clone());
            }
            if let Ok(n) = MailboxName::parse(s) {
                for a in n.ancestors() {
                    if pat.matches(a.as_str()) && !pat.matches(s) {
                        names.insert(a.as_str().to_owned());
                    }
                }
            }
        }
        let mut names: Vec<String> = names.into_iter().collect();
        inbox_first(&mut names);
        for name in names {
            let node = tree.node(&name);
            let mut attrs = Vec::new();
            if !tree.subscribed.contains(&name) || !node.exists {
                attrs.push("\\Noselect");
            }
            lines.push(Line {
                name,
                attrs,
                childinfo: false,
                status: false,
            });
        }
    }
    for line in &lines {
        write_line(out, kind, line, ctx.enabled.utf8_accept);
    }
    Reply::ok(format!("{word} completed"))
}
