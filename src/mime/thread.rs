//! The THREAD algorithms of RFC 5256: ORDEREDSUBJECT (§3) and REFERENCES
//! (§4, the JWZ algorithm with subject merging), over messages described
//! only by their [`SortFields`] and sent date, or (for a caller that keeps
//! them) by the same facts with IDs and subjects already numbered
//! ([`Numbered`]), so that linking is integer work. Pure and total: any
//! input (duplicate, self-referencing or looping IDs, thousands of
//! references) gives a forest holding every input message exactly once,
//! with no recursion over reference chains (an arena and explicit loops
//! instead).

use std::collections::HashMap;

use super::sort::SortFields;

/// One message to thread. Its position in the input slice is its mailbox
/// order, which breaks date ties.
#[derive(Debug, Clone, Copy)]
pub struct ThreadInput<'a> {
    /// Sent date (RFC 5256 §2.2: Date header in UTC, INTERNALDATE when
    /// the header is missing or unparsable), seconds since the epoch.
    pub date: i64,
    /// The message's stored sort fields.
    pub fields: &'a SortFields,
}

/// [`ThreadInput`] with its strings numbered: equal Message-IDs (and
/// References entries) carry equal numbers, and so do equal base
/// subjects. Numbers need not be dense, but the arena is sized by the
/// largest, so they should be.
#[derive(Debug, Clone, Copy)]
pub struct Numbered<'a> {
    /// As [`ThreadInput::date`].
    pub date: i64,
    /// The Message-ID's number.
    pub message_id: Option<u32>,
    /// The References chain's numbers, oldest first.
    pub references: &'a [u32],
    /// The base subject's number; None when the base subject is empty.
    pub subject: Option<u32>,
    /// As [`SortFields::is_reply`].
    pub is_reply: bool,
}

/// A thread as RFC 5256 writes it: `members` is a chain (each the only
/// child of the one before, by input index), then `children` (never one
/// alone) hang under the last member. An empty `members` is a dummy
/// parent (a message that is not in the set) of its children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    /// The chain, by index into the input.
    pub members: Vec<usize>,
    /// The sub-threads under the last member.
    pub children: Vec<Tree>,
}

impl Tree {
    /// Every index in the tree, in the order they appear.
    pub fn indices(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(t) = stack.pop() {
            out.extend(&t.members);
            stack.extend(t.children.iter().rev());
        }
        out
    }
}

/// THREAD=ORDEREDSUBJECT (RFC 5256 §3): messages grouped by base subject;
/// in each group the earliest is the parent and the others its children
/// in date order; groups in the order of their first message's date.
pub fn ordered_subject(msgs: &[ThreadInput<'_>]) -> Vec<Tree> {
    let keys: Vec<(&str, i64)> = msgs
        .iter()
        .map(|m| (m.fields.base_subject.as_str(), m.date))
        .collect();
    ordered(&keys)
}

/// [`ordered_subject`] over numbered messages, whose subject numbers
/// must be in the subjects' byte order (the empty subject, None, first).
pub fn ordered_subject_numbered(msgs: &[Numbered<'_>]) -> Vec<Tree> {
    let keys: Vec<(Option<u32>, i64)> = msgs.iter().map(|m| (m.subject, m.date)).collect();
    ordered(&keys)
}

/// ORDEREDSUBJECT over (subject, sent date) by input index.
fn ordered<S: Ord + Copy>(msgs: &[(S, i64)]) -> Vec<Tree> {
    let mut order: Vec<usize> = (0..msgs.len()).collect();
    let key = |i: usize| msgs.get(i).copied();
    order.sort_by(|&a, &b| key(a).cmp(&key(b)).then(a.cmp(&b)));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut last: Option<S> = None;
    for i in order {
        let subj = msgs.get(i).map(|m| m.0);
        match groups.last_mut() {
            Some(g) if last == subj => g.push(i),
            _ => groups.push(vec![i]),
        }
        last = subj;
    }
    let date = |i: usize| msgs.get(i).map_or(0, |m| m.1);
    groups.sort_by_key(|g| g.first().map(|&i| (date(i), i)));
    groups
        .into_iter()
        .map(|g| {
            let (first, rest) = g.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
            match rest {
                [] => Tree {
                    members: vec![first],
                    children: Vec::new(),
                },
                [only] => Tree {
                    members: vec![first, *only],
                    children: Vec::new(),
                },
                _ => Tree {
                    members: vec![first],
                    children: rest
                        .iter()
                        .map(|&i| Tree {
                            members: vec![i],
                            children: Vec::new(),
                        })
                        .collect(),
                },
            }
        })
        .collect()
}

#[derive(Debug, Default, Clone)]
struct Container {
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Arena {
    c: Vec<Container>,
    /// By ID number: its container.
    ids: Vec<Option<usize>>,
}

impl Arena {
    fn new_container(&mut self) -> usize {
        self.c.push(Container::default());
        self.c.len() - 1
    }

    fn get(&mut self, id: u32) -> usize {
        let id = id as usize;
        if let Some(&Some(c)) = self.ids.get(id) {
            return c;
        }
        let c = self.new_container();
        if self.ids.len() <= id {
            self.ids.resize(id + 1, None);
        }
        if let Some(slot) = self.ids.get_mut(id) {
            *slot = Some(c);
        }
        c
    }

    fn parent(&self, c: usize) -> Option<usize> {
        self.c.get(c).and_then(|x| x.parent)
    }

    fn children(&self, c: usize) -> &[usize] {
        self.c.get(c).map_or(&[], |x| &x.children)
    }

    fn msg(&self, c: usize) -> Option<usize> {
        self.c.get(c).and_then(|x| x.msg)
    }

    /// True when `a` is `b` or one of its ancestors.
    fn is_ancestor(&self, a: usize, b: usize) -> bool {
        let mut cur = Some(b);
        // Parent links never form a cycle (every link is checked with this
        // function first); the bound is a second guard.
        for _ in 0..=self.c.len() {
            match cur {
                Some(x) if x == a => return true,
                Some(x) => cur = self.parent(x),
                None => return false,
            }
        }
        true
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.parent(child) {
            if let Some(pc) = self.c.get_mut(p) {
                pc.children.retain(|&x| x != child);
            }
        }
        if let Some(c) = self.c.get_mut(child) {
            c.parent = None;
        }
    }

    /// True when making `child` a child of `parent` would close a loop.
    /// A container without children cannot be an ancestor of anything,
    /// which is the common case (a new message) and keeps long chains
    /// linear instead of walking to the root for every message.
    fn would_loop(&self, parent: usize, child: usize) -> bool {
        parent == child || (!self.children(child).is_empty() && self.is_ancestor(child, parent))
    }

    /// Makes `child` (which has no parent) a child of `parent`, unless
    /// that would make a loop.
    fn link(&mut self, parent: usize, child: usize) {
        if self.parent(child).is_some() || self.would_loop(parent, child) {
            return;
        }
        if let Some(p) = self.c.get_mut(parent) {
            p.children.push(child);
        }
        if let Some(c) = self.c.get_mut(child) {
            c.parent = Some(parent);
        }
    }
}

/// THREAD=REFERENCES (RFC 5256 §4).
pub fn references(msgs: &[ThreadInput<'_>]) -> Vec<Tree> {
    let (refs, numbered) = number(msgs);
    threads(&numbered.of(&refs), Variant::References)
}

/// [`references`] over numbered messages.
pub fn references_numbered(msgs: &[Numbered<'_>]) -> Vec<Tree> {
    threads(msgs, Variant::References)
}

/// [`refs`] over numbered messages.
pub fn refs_numbered(msgs: &[Numbered<'_>]) -> Vec<Tree> {
    threads(msgs, Variant::Refs)
}

/// The numbers of [`Numbered`] inputs, without the borrowed References.
struct NumberedOwned {
    msgs: Vec<Owned>,
}

/// One [`Numbered`] with its References as a range of a shared list.
struct Owned {
    date: i64,
    message_id: Option<u32>,
    refs: (usize, usize),
    subject: Option<u32>,
    is_reply: bool,
}

impl NumberedOwned {
    fn of<'a>(&self, refs: &'a [u32]) -> Vec<Numbered<'a>> {
        self.msgs
            .iter()
            .map(|m| Numbered {
                date: m.date,
                message_id: m.message_id,
                references: refs.get(m.refs.0..m.refs.1).unwrap_or(&[]),
                subject: m.subject,
                is_reply: m.is_reply,
            })
            .collect()
    }
}

/// Numbers the IDs and base subjects of `msgs` (in first-seen order).
fn number(msgs: &[ThreadInput<'_>]) -> (Vec<u32>, NumberedOwned) {
    let mut ids: HashMap<&str, u32> = HashMap::with_capacity(msgs.len() * 2);
    let mut subjects: HashMap<&str, u32> = HashMap::new();
    let mut refs = Vec::new();
    let mut out = Vec::with_capacity(msgs.len());
    fn num<'a>(table: &mut HashMap<&'a str, u32>, s: &'a str) -> u32 {
        let next = u32::try_from(table.len()).unwrap_or(u32::MAX);
        *table.entry(s).or_insert(next)
    }
    for m in msgs {
        let f = m.fields;
        let message_id = f.message_id.as_deref().map(|id| num(&mut ids, id));
        let start = refs.len();
        for r in &f.references {
            refs.push(num(&mut ids, r));
        }
        let subject = (!f.base_subject.is_empty()).then(|| num(&mut subjects, &f.base_subject));
        out.push(Owned {
            date: m.date,
            message_id,
            refs: (start, refs.len()),
            subject,
            is_reply: f.is_reply,
        });
    }
    (refs, NumberedOwned { msgs: out })
}

/// THREAD=REFS (draft-ietf-morg-inthread): REFERENCES steps 1 to 4 (the
/// same links, the same pruning, siblings by date), with no merging by
/// subject, and the threads ordered by their most recent message: by the
/// latest sent date of any message in the thread, ties by the thread's
/// earliest message (date, then mailbox order), as Dovecot does.
pub fn refs(msgs: &[ThreadInput<'_>]) -> Vec<Tree> {
    let (refs, numbered) = number(msgs);
    threads(&numbered.of(&refs), Variant::Refs)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    References,
    Refs,
}

fn threads(msgs: &[Numbered<'_>], variant: Variant) -> Vec<Tree> {
    let mut a = Arena {
        c: Vec::with_capacity(msgs.len() * 2),
        ids: Vec::with_capacity(msgs.len() * 2),
    };
    let mut refs: Vec<usize> = Vec::new();
    // (1) Link messages by their references.
    for (i, m) in msgs.iter().enumerate() {
        // (1B first) The message's own container; a missing or duplicate
        // Message-ID gets a fresh, unnamed one.
        let own = match m.message_id {
            Some(id) => {
                let c = a.get(id);
                if a.msg(c).is_some() {
                    a.new_container()
                } else {
                    c
                }
            }
            None => a.new_container(),
        };
        if let Some(c) = a.c.get_mut(own) {
            c.msg = Some(i);
        }
        // (1A) Each reference is the parent of the next, unless already
        // linked or looping.
        refs.clear();
        refs.extend(m.references.iter().map(|&r| a.get(r)));
        for w in refs.windows(2) {
            if let [p, c] = *w {
                if p != c && p != own && c != own {
                    a.link(p, c);
                }
            }
        }
        // (1B) The last reference is the parent: it replaces whatever a
        // References field of another message presumed.
        // The presumed parent always goes (with no references the parent
        // is NIL); the new link is made unless it would close a loop, in
        // which case the message starts a thread of its own (Dovecot;
        // imaptest `thread`).
        a.unlink(own);
        if let Some(&parent) = refs.iter().rev().find(|&&r| r != own) {
            a.link(parent, own);
        }
    }
    // (2) The root set.
    let mut roots: Vec<usize> = (0..a.c.len()).filter(|&c| a.parent(c).is_none()).collect();
    // (4) Prune dummies, children before parents (an explicit post-order).
    let mut post = Vec::with_capacity(a.c.len());
    let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
    while let Some((c, done)) = stack.pop() {
        if done {
            post.push(c);
        } else {
            stack.push((c, true));
            stack.extend(a.children(c).iter().rev().map(|&x| (x, false)));
        }
    }
    let mut promoted: HashMap<usize, Option<usize>> = HashMap::new();
    for c in post {
        if a.msg(c).is_some() {
            continue;
        }
        let kids = a.children(c).to_vec();
        match a.parent(c) {
            Some(p) => {
                // A dummy inside a thread gives way to its children.
                for &k in &kids {
                    if let Some(x) = a.c.get_mut(k) {
                        x.parent = Some(p);
                    }
                }
                if let Some(pc) = a.c.get_mut(p) {
                    if let Some(pos) = pc.children.iter().position(|&x| x == c) {
                        pc.children.splice(pos..=pos, kids);
                    }
                }
                if let Some(x) = a.c.get_mut(c) {
                    x.children.clear();
                    x.parent = None;
                }
            }
            None => {
                // At the root only a single child is promoted.
                if kids.len() <= 1 {
                    if let Some(&k) = kids.first() {
                        if let Some(x) = a.c.get_mut(k) {
                            x.parent = None;
                        }
                    }
                    // Replaced in `roots` after the loop: finding its
                    // place now would cost a scan of the roots per dummy.
                    promoted.insert(c, kids.first().copied());
                    if let Some(x) = a.c.get_mut(c) {
                        x.children.clear();
                    }
                }
            }
        }
    }
    if !promoted.is_empty() {
        roots = roots
            .into_iter()
            .filter_map(|r| match promoted.get(&r) {
                Some(&kid) => kid,
                None => Some(r),
            })
            .collect();
    }
    sort_siblings(&mut a, msgs);
    // (5) Sort the root set by date (a dummy by its first child's).
    let key = |a: &Arena, c: usize| -> (i64, usize) {
        let m = a.msg(c).or_else(|| {
            a.children(c)
                .iter()
                .filter_map(|&k| a.msg(k))
                .min_by_key(|&i| (msgs.get(i).map_or(0, |m| m.date), i))
        });
        m.map_or((i64::MAX, usize::MAX), |i| {
            (msgs.get(i).map_or(0, |m| m.date), i)
        })
    };
    if variant == Variant::Refs {
        roots.sort_by_cached_key(|&c| (latest(&a, c, msgs), key(&a, c)));
        return roots.into_iter().map(|r| to_tree(&a, r)).collect();
    }
    roots.sort_by_cached_key(|&c| key(&a, c));
    // (6) Merge threads whose subjects agree.
    let subject = |a: &Arena, c: usize| -> Option<usize> {
        a.msg(c)
            .or_else(|| a.children(c).first().and_then(|&k| a.msg(k)))
    };
    let subj_of = |a: &Arena, c: usize| -> Option<u32> {
        subject(a, c)
            .and_then(|i| msgs.get(i))
            .and_then(|m| m.subject)
    };
    let is_reply = |a: &Arena, c: usize| -> bool {
        a.msg(c)
            .and_then(|i| msgs.get(i))
            .is_some_and(|m| m.is_reply)
    };
    let mut table: HashMap<u32, usize> = HashMap::new();
    for &c in &roots {
        let Some(s) = subj_of(&a, c) else { continue };
        match table.get(&s).copied() {
            None => {
                table.insert(s, c);
            }
            Some(t) => {
                let t_dummy = a.msg(t).is_none();
                let c_dummy = a.msg(c).is_none();
                if !t_dummy && (c_dummy || (is_reply(&a, t) && !is_reply(&a, c))) {
                    table.insert(s, c);
                }
            }
        }
    }
    let mut slots: Vec<Option<usize>> = roots.iter().map(|&c| Some(c)).collect();
    let mut slot_of: HashMap<usize, usize> =
        roots.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    for (slot, &c) in roots.iter().enumerate() {
        let Some(s) = subj_of(&a, c) else { continue };
        let Some(&t) = table.get(&s) else { continue };
        if t == c {
            continue;
        }
        let t_dummy = a.msg(t).is_none();
        let c_dummy = a.msg(c).is_none();
        if t_dummy && c_dummy {
            let kids = std::mem::take(&mut a.c[c].children);
            for &k in &kids {
                a.c[k].parent = Some(t);
            }
            a.c[t].children.extend(kids);
        } else if t_dummy || (is_reply(&a, c) && !is_reply(&a, t)) {
            a.link(t, c);
        } else {
            let d = a.new_container();
            let t_slot = slot_of.get(&t).copied();
            a.link(d, t);
            a.link(d, c);
            if let Some(ts) = t_slot {
                if let Some(x) = slots.get_mut(ts) {
                    *x = Some(d);
                }
                slot_of.insert(d, ts);
            }
            table.insert(s, d);
        }
        if let Some(x) = slots.get_mut(slot) {
            *x = None;
        }
    }
    let mut roots: Vec<usize> = slots.into_iter().flatten().collect();
    // (7) Sort every set of siblings by date; dummies (only ever at the
    // root) by their first child, so children are sorted first.
    sort_siblings(&mut a, msgs);
    roots.sort_by_cached_key(|&c| key(&a, c));
    roots.into_iter().map(|r| to_tree(&a, r)).collect()
}

/// The latest sent date of any message in the thread at `root` (walked
/// with an explicit stack: a thread may be a 100,000-message chain).
fn latest(a: &Arena, root: usize, msgs: &[Numbered<'_>]) -> i64 {
    let mut best = i64::MIN;
    let mut stack = vec![root];
    while let Some(c) = stack.pop() {
        if let Some(m) = a.msg(c).and_then(|i| msgs.get(i)) {
            best = best.max(m.date);
        }
        stack.extend_from_slice(a.children(c));
    }
    best
}

/// Sorts the children of every container by (date, mailbox order). Below
/// the root there are no dummies after pruning, so a child's own message
/// is its key.
fn sort_siblings(a: &mut Arena, msgs: &[Numbered<'_>]) {
    let date = |i: usize| msgs.get(i).map_or(0, |m| m.date);
    for c in 0..a.c.len() {
        if a.children(c).len() < 2 {
            continue;
        }
        let mut kids = std::mem::take(&mut a.c[c].children);
        kids.sort_by_cached_key(|&k| a.msg(k).map_or((i64::MAX, usize::MAX), |i| (date(i), i)));
        a.c[c].children = kids;
    }
}

/// The RFC 5256 shape of the thread at `root`: chains flattened, so only
/// branching costs recursion.
fn to_tree(a: &Arena, root: usize) -> Tree {
    let mut t = Tree::default();
    let mut cur = root;
    loop {
        if let Some(m) = a.msg(cur) {
            t.members.push(m);
        }
        match a.children(cur) {
            [only] if a.msg(cur).is_some() => cur = *only,
            kids => {
                t.children = kids.iter().map(|&k| to_tree(a, k)).collect();
                return t;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: &str, refs: &[&str], subj: &str) -> SortFields {
        let (b, r) = super::super::sort::base_subject(subj);
        SortFields {
            base_subject: super::super::sort::casemap(&b),
            is_reply: r,
            message_id: (!id.is_empty()).then(|| id.to_owned()),
            references: refs.iter().map(|s| (*s).to_owned()).collect(),
            ..SortFields::default()
        }
    }

    fn show(ts: &[Tree]) -> String {
        fn one(t: &Tree, out: &mut String) {
            out.push('(');
            let m: Vec<String> = t.members.iter().map(|i| (i + 1).to_string()).collect();
            out.push_str(&m.join(" "));
            if !t.members.is_empty() && !t.children.is_empty() {
                out.push(' ');
            }
            for c in &t.children {
                one(c, out);
            }
            out.push(')');
        }
        let mut s = String::new();
        for t in ts {
            one(t, &mut s);
        }
        s
    }

    fn run(fields: &[SortFields], dates: &[i64]) -> String {
        let input: Vec<ThreadInput> = fields
            .iter()
            .zip(dates)
            .map(|(f, &d)| ThreadInput { date: d, fields: f })
            .collect();
        show(&references(&input))
    }

    #[test]
    fn rfc5256_4_references_chain_branch_and_dummy() {
        let fs = [
            f("a@x", &[], "hello"),
            f("b@x", &["a@x"], "Re: hello"),
            f("c@x", &["a@x", "b@x"], "Re: hello"),
            f("d@x", &["a@x"], "Re: hello"),
            // Two replies to a missing message: a dummy root.
            f("e@x", &["gone@x"], "other"),
            f("f@x", &["gone@x"], "Re: other"),
        ];
        assert_eq!(run(&fs, &[1, 2, 3, 4, 5, 6]), "(1 (2 3)(4))((5)(6))");
    }

    #[test]
    fn rfc5256_4_loops_duplicates_and_self_references_keep_every_message() {
        let fs = [
            f("a@x", &["b@x"], "s1"),
            f("b@x", &["a@x"], "s2"),
            f("a@x", &["a@x"], "s3"),
            f("", &["a@x", "a@x", "b@x", "a@x"], "s4"),
        ];
        let input: Vec<ThreadInput> = fs
            .iter()
            .map(|f| ThreadInput { date: 0, fields: f })
            .collect();
        let t = references(&input);
        let mut all: Vec<usize> = t.iter().flat_map(Tree::indices).collect();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3]);
    }

    #[test]
    fn rfc5256_4_subject_merge() {
        // No references at all: same base subject merges; the non-reply is
        // the parent of the reply.
        let fs = [
            f("a@x", &[], "Re: topic"),
            f("b@x", &[], "topic"),
            f("c@x", &[], "unrelated"),
            f("d@x", &[], "topic"),
        ];
        // 1 (a reply) goes under 2; 4 and 2 are both originals, so a
        // dummy holds them.
        assert_eq!(run(&fs, &[1, 2, 3, 4]), "((2 1)(4))(3)");
    }

    /// REFS: the links and sibling order of REFERENCES; no subject merge
    /// (1 and 4 share "topic" but stay apart); threads by their latest
    /// message: (5 6) ends at 6 (day 9) after 3 (day 7) and before the
    /// thread of 1, whose reply 2 is dated day 10.
    #[test]
    fn inthread_refs_latest_message_and_no_subject_merge() {
        let fs = [
            f("a@x", &[], "topic"),
            f("b@x", &["a@x"], "Re: topic"),
            f("c@x", &[], "other"),
            f("d@x", &[], "topic"),
            f("e@x", &["gone@x"], "x"),
            f("f@x", &["gone@x"], "y"),
        ];
        let input: Vec<ThreadInput> = fs
            .iter()
            .zip([1, 10, 7, 2, 8, 9])
            .map(|(f, d)| ThreadInput { date: d, fields: f })
            .collect();
        assert_eq!(show(&refs(&input)), "(4)(3)((5)(6))(1 2)");
        // REFERENCES merges 4 under the same subject and sorts by the
        // first message (days 1, 7, 8).
        assert_eq!(show(&references(&input)), "((1 2)(4))(3)((5)(6))");
        // Latest dates 2, 4, 5 and 5: the tie between (1 2) and (3) goes
        // to the thread whose earliest message is earlier.
        let tied: Vec<ThreadInput> = fs
            .iter()
            .zip([1, 5, 5, 2, 3, 4])
            .map(|(f, d)| ThreadInput { date: d, fields: f })
            .collect();
        assert_eq!(show(&refs(&tied)), "(4)((5)(6))(1 2)(3)");
    }

    #[test]
    fn rfc5256_3_ordered_subject() {
        let fs = [
            f("", &[], "b"),
            f("", &[], "a"),
            f("", &[], "Re: b"),
            f("", &[], "a"),
            f("", &[], "Re: a"),
        ];
        let input: Vec<ThreadInput> = fs
            .iter()
            .zip([5, 1, 2, 3, 4])
            .map(|(f, d)| ThreadInput { date: d, fields: f })
            .collect();
        // a: 2(1) 4(3) 5(4); b: 3(2) 1(5).
        assert_eq!(show(&ordered_subject(&input)), "(2 (4)(5))(3 1)");
    }

    /// Deterministic stand-in for the `thread_builder` fuzz target: IDs
    /// from a tiny alphabet make duplicates, self references and loops
    /// common; every message must come back exactly once.
    #[test]
    fn property_every_message_exactly_once() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let subjects = ["a", "Re: a", "b", "Fwd: b", "", "Re: Fwd:", "[l] a (fwd)"];
        for _ in 0..300 {
            let n = 1 + next(40) as usize;
            let fs: Vec<SortFields> = (0..n)
                .map(|_| {
                    let id = |k: u64| format!("{k}@x");
                    let refs = (0..next(6)).map(|_| id(next(12))).collect();
                    let subj = subjects[next(subjects.len() as u64) as usize];
                    let mut f = f("", &[], subj);
                    f.message_id = (next(5) != 0).then(|| id(next(12)));
                    f.references = refs;
                    f
                })
                .collect();
            let input: Vec<ThreadInput> = fs
                .iter()
                .map(|f| ThreadInput {
                    date: next(5) as i64,
                    fields: f,
                })
                .collect();
            for trees in [references(&input), refs(&input), ordered_subject(&input)] {
                let mut all: Vec<usize> = trees.iter().flat_map(Tree::indices).collect();
                all.sort_unstable();
                assert_eq!(all, (0..n).collect::<Vec<_>>(), "{fs:?}");
                // RFC 5256 shape: a branch has at least two children.
                let mut stack: Vec<&Tree> = trees.iter().collect();
                while let Some(t) = stack.pop() {
                    assert!(t.children.len() != 1 || t.members.is_empty(), "{fs:?}");
                    stack.extend(&t.children);
                }
            }
        }
    }

    #[test]
    fn deep_chain_does_not_recurse() {
        let n = 100_000;
        let fs: Vec<SortFields> = (0..n)
            .map(|i| {
                let refs = if i == 0 {
                    vec![]
                } else {
                    vec![format!("{}@x", i - 1)]
                };
                SortFields {
                    message_id: Some(format!("{i}@x")),
                    references: refs,
                    ..SortFields::default()
                }
            })
            .collect();
        let input: Vec<ThreadInput> = fs
            .iter()
            .enumerate()
            .map(|(i, f)| ThreadInput {
                date: i as i64,
                fields: f,
            })
            .collect();
        let t = references(&input);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].members.len(), n);
    }
}
