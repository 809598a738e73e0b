//! The IMAP capabilities this server implements, as values: their wire
//! names ([`Capability`]'s `Display`), the names `ENABLE` recognises
//! ([`Capability::from_name`]), and [`advertised`], the one function that
//! lists what a session announces in each state. Only what works end to end
//! is listed (doc/protocol.md). Never decides session state or writes
//! responses: the session asks for the list and writes it.

use std::fmt;

/// One capability, by its RFC name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Capability {
    /// `IMAP4rev1` (RFC 3501).
    Imap4rev1,
    /// `IMAP4rev2` (RFC 9051); ENABLE-able for rev2 semantics.
    Imap4rev2,
    /// `LITERAL+` (RFC 7888).
    LiteralPlus,
    /// `ID` (RFC 2971).
    Id,
    /// `ENABLE` (RFC 5161).
    Enable,
    /// `SASL-IR` (RFC 4959).
    SaslIr,
    /// `STARTTLS`.
    StartTls,
    /// `AUTH=PLAIN` (RFC 4616).
    AuthPlain,
    /// `LOGINDISABLED`: no login before TLS.
    LoginDisabled,
    /// `COMPRESS=DEFLATE` (RFC 4978): after login, until it is active.
    CompressDeflate,
    /// `NAMESPACE` (RFC 2342).
    Namespace,
    /// `XCRY`: the private configuration commands.
    Xcry,
    /// `XYZZY`.
    Xyzzy,
    /// `CHILDREN` (RFC 3348).
    Children,
    /// `MULTIAPPEND` (RFC 3502).
    MultiAppend,
    /// `LIST-EXTENDED` (RFC 5258).
    ListExtended,
    /// `LIST-STATUS` (RFC 5819).
    ListStatus,
    /// `SPECIAL-USE` (RFC 6154).
    SpecialUse,
    /// `CREATE-SPECIAL-USE` (RFC 6154).
    CreateSpecialUse,
    /// `STATUS=SIZE` (RFC 8438).
    StatusSize,
    /// `APPENDLIMIT=<n>` (RFC 7889): the one limit that applies to every
    /// mailbox, in octets.
    AppendLimit(u64),
    /// `XLIST`.
    Xlist,
    /// `IDLE` (RFC 2177).
    Idle,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `UIDPLUS` (RFC 4315).
    UidPlus,
    /// `MOVE` (RFC 6851).
    Move,
    /// `REPLACE` (RFC 8508).
    Replace,
    /// `CATENATE` (RFC 4469).
    Catenate,
    /// `URL-PARTIAL` (RFC 5550): `;PARTIAL=` in CATENATE's URLs.
    UrlPartial,
    /// `CONDSTORE` (RFC 7162); ENABLE-able.
    CondStore,
    /// `QRESYNC` (RFC 7162); ENABLE-able, implies CONDSTORE.
    QResync,
    /// `UTF8=ACCEPT` (RFC 6855); ENABLE-able.
    Utf8Accept,
    /// `BINARY` (RFC 3516).
    Binary,
    /// `OBJECTID` (RFC 8474).
    ObjectId,
    /// `SAVEDATE` (RFC 8514).
    SaveDate,
    /// `ESEARCH` (RFC 4731).
    Esearch,
    /// `SEARCHRES` (RFC 5182).
    SearchRes,
    /// `PREVIEW` (RFC 8970): FETCH PREVIEW.
    Preview,
    /// `WITHIN` (RFC 5032): SEARCH OLDER / YOUNGER.
    Within,
    /// `PARTIAL` (RFC 9394): paged SEARCH, SORT and FETCH.
    Partial,
    /// `SORT` (RFC 5256).
    Sort,
    /// `SORT=DISPLAY` (RFC 5957).
    SortDisplay,
    /// `ESORT` (RFC 5267): SORT RETURN.
    Esort,
    /// `THREAD=ORDEREDSUBJECT` (RFC 5256).
    ThreadOrderedSubject,
    /// `THREAD=REFERENCES` (RFC 5256).
    ThreadReferences,
    /// `THREAD=REFS` (draft-ietf-morg-inthread).
    ThreadRefs,
    /// `CONTEXT=SEARCH` (RFC 5267 §4): SEARCH RETURN (UPDATE CONTEXT),
    /// CANCELUPDATE.
    ContextSearch,
    /// `CONTEXT=SORT` (RFC 5267 §4): the same for SORT.
    ContextSort,
    /// `UIDONLY` (RFC 9586); ENABLE-able: no sequence numbers either way.
    UidOnly,
    /// `NOTIFY` (RFC 5465).
    Notify,
}

/// The capabilities without a value, with their wire names: the one table
/// both [`Capability`]'s `Display` and [`Capability::from_name`] read.
const NAMES: &[(Capability, &str)] = &[
    (Capability::Imap4rev1, "IMAP4rev1"),
    (Capability::Imap4rev2, "IMAP4rev2"),
    (Capability::LiteralPlus, "LITERAL+"),
    (Capability::Id, "ID"),
    (Capability::Enable, "ENABLE"),
    (Capability::SaslIr, "SASL-IR"),
    (Capability::StartTls, "STARTTLS"),
    (Capability::AuthPlain, "AUTH=PLAIN"),
    (Capability::CompressDeflate, "COMPRESS=DEFLATE"),
    (Capability::LoginDisabled, "LOGINDISABLED"),
    (Capability::Namespace, "NAMESPACE"),
    (Capability::Xcry, "XCRY"),
    (Capability::Xyzzy, "XYZZY"),
    (Capability::Children, "CHILDREN"),
    (Capability::MultiAppend, "MULTIAPPEND"),
    (Capability::ListExtended, "LIST-EXTENDED"),
    (Capability::ListStatus, "LIST-STATUS"),
    (Capability::SpecialUse, "SPECIAL-USE"),
    (Capability::CreateSpecialUse, "CREATE-SPECIAL-USE"),
    (Capability::StatusSize, "STATUS=SIZE"),
    (Capability::Xlist, "XLIST"),
    (Capability::Idle, "IDLE"),
    (Capability::Unselect, "UNSELECT"),
    (Capability::UidPlus, "UIDPLUS"),
    (Capability::Move, "MOVE"),
    (Capability::Replace, "REPLACE"),
    (Capability::Catenate, "CATENATE"),
    (Capability::UrlPartial, "URL-PARTIAL"),
    (Capability::CondStore, "CONDSTORE"),
    (Capability::QResync, "QRESYNC"),
    (Capability::Utf8Accept, "UTF8=ACCEPT"),
    (Capability::Binary, "BINARY"),
    (Capability::ObjectId, "OBJECTID"),
    (Capability::SaveDate, "SAVEDATE"),
    (Capability::Esearch, "ESEARCH"),
    (Capability::SearchRes, "SEARCHRES"),
    (Capability::Preview, "PREVIEW"),
    (Capability::Within, "WITHIN"),
    (Capability::Partial, "PARTIAL"),
    (Capability::Sort, "SORT"),
    (Capability::SortDisplay, "SORT=DISPLAY"),
    (Capability::Esort, "ESORT"),
    (Capability::ThreadOrderedSubject, "THREAD=ORDEREDSUBJECT"),
    (Capability::ThreadReferences, "THREAD=REFERENCES"),
    (Capability::ThreadRefs, "THREAD=REFS"),
    (Capability::ContextSearch, "CONTEXT=SEARCH"),
    (Capability::ContextSort, "CONTEXT=SORT"),
    (Capability::UidOnly, "UIDONLY"),
    (Capability::Notify, "NOTIFY"),
];

/// The wire name before `=` of a capability that carries a value.
const APPENDLIMIT: &str = "APPENDLIMIT";

impl Capability {
    /// The capability a client names, case-insensitively (ENABLE's
    /// arguments, RFC 5161 §3.1); `None` for a name this server does not
    /// implement. `APPENDLIMIT=<n>` parses with its value.
    pub(crate) fn from_name(name: &str) -> Option<Capability> {
        if let Some((key, value)) = name.split_once('=') {
            if key.eq_ignore_ascii_case(APPENDLIMIT) {
                return value.parse().ok().map(Capability::AppendLimit);
            }
        }
        NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(c, _)| *c)
    }
}

impl fmt::Display for Capability {
    /// The wire name, e.g. `LITERAL+` or `APPENDLIMIT=67108864`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Capability::AppendLimit(n) = self {
            return write!(f, "{APPENDLIMIT}={n}");
        }
        match NAMES.iter().find(|(c, _)| c == self) {
            Some((_, name)) => f.write_str(name),
            // Every value-less variant is in NAMES (a test checks it).
            None => write!(f, "{self:?}"),
        }
    }
}

/// Where the session is, as far as the capability list cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Before LOGIN/AUTHENTICATE.
    NotAuthenticated {
        /// TLS is already active (implicit TLS or after STARTTLS).
        tls: bool,
        /// Logging in is allowed now: under TLS, or on a connection nobody
        /// can listen in on (loopback, UNIX socket).
        login_allowed: bool,
    },
    /// Logged in.
    Authenticated {
        /// COMPRESS is not active yet (RFC 4978 §3: offered until it is).
        /// Logging in required TLS or a connection nobody can listen in
        /// on, so compression is as safe as the login was.
        compress_available: bool,
    },
}

/// The capabilities a session advertises in `phase`, in the order they are
/// sent. `append_limit` is the configured largest message, the one limit
/// that applies to every mailbox (RFC 7889).
pub(crate) fn advertised(phase: Phase, append_limit: u64) -> Vec<Capability> {
    use Capability as C;
    let mut caps = vec![C::Imap4rev1, C::Imap4rev2, C::LiteralPlus, C::Id, C::Enable];
    match phase {
        Phase::NotAuthenticated { tls, login_allowed } => {
            caps.push(C::SaslIr);
            if !tls {
                caps.push(C::StartTls);
            }
            caps.push(if login_allowed {
                C::AuthPlain
            } else {
                C::LoginDisabled
            });
        }
        Phase::Authenticated { compress_available } => {
            caps.extend([C::Namespace, C::Xcry, C::Xyzzy]);
            // imap::session::compress
            if compress_available {
                caps.push(C::CompressDeflate);
            }
        }
    }
    // imap::commands::mailboxes
    caps.extend([
        C::Children,
        C::MultiAppend,
        C::ListExtended,
        C::ListStatus,
        C::SpecialUse,
        C::CreateSpecialUse,
        C::StatusSize,
        C::AppendLimit(append_limit),
        C::Xlist,
        C::Catenate,
        C::UrlPartial,
    ]);
    // imap::commands::{selected, idle, copy, replace}
    caps.extend([
        C::Idle,
        C::Unselect,
        C::UidPlus,
        C::Move,
        C::Replace,
        C::CondStore,
        C::QResync,
        C::Utf8Accept,
    ]);
    // imap::commands::uidonly
    caps.push(C::UidOnly);
    // imap::commands::fetch
    caps.extend([C::Binary, C::ObjectId, C::SaveDate, C::Preview]);
    // imap::commands::search
    caps.extend([C::Esearch, C::SearchRes, C::Within, C::Partial]);
    // imap::commands::sort
    caps.extend([
        C::Sort,
        C::SortDisplay,
        C::Esort,
        C::ThreadOrderedSubject,
        C::ThreadReferences,
        C::ThreadRefs,
    ]);
    // imap::commands::updates
    caps.extend([C::ContextSearch, C::ContextSort]);
    // imap::commands::notify
    caps.push(C::Notify);
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(caps: &[Capability]) -> String {
        caps.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }

    const EXTENSIONS: &str = "CHILDREN MULTIAPPEND LIST-EXTENDED LIST-STATUS SPECIAL-USE \
        CREATE-SPECIAL-USE STATUS=SIZE APPENDLIMIT=67108864 XLIST CATENATE URL-PARTIAL IDLE UNSELECT UIDPLUS MOVE \
        REPLACE CONDSTORE QRESYNC UTF8=ACCEPT UIDONLY BINARY OBJECTID SAVEDATE PREVIEW ESEARCH SEARCHRES WITHIN PARTIAL SORT SORT=DISPLAY ESORT \
        THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS CONTEXT=SEARCH CONTEXT=SORT NOTIFY";

    #[test]
    fn advertised_lists_are_the_documented_ones() {
        let limit = 64 * 1024 * 1024;
        let cleartext = Phase::NotAuthenticated {
            tls: false,
            login_allowed: false,
        };
        assert_eq!(
            names(&advertised(cleartext, limit)),
            format!("IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE SASL-IR STARTTLS LOGINDISABLED {EXTENSIONS}")
        );
        let local = Phase::NotAuthenticated {
            tls: false,
            login_allowed: true,
        };
        assert_eq!(
            names(&advertised(local, limit)),
            format!(
                "IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE SASL-IR STARTTLS AUTH=PLAIN {EXTENSIONS}"
            )
        );
        let tls = Phase::NotAuthenticated {
            tls: true,
            login_allowed: true,
        };
        assert_eq!(
            names(&advertised(tls, limit)),
            format!("IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE SASL-IR AUTH=PLAIN {EXTENSIONS}")
        );
        let authenticated = |compress_available| Phase::Authenticated { compress_available };
        assert_eq!(
            names(&advertised(authenticated(true), limit)),
            format!("IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE NAMESPACE XCRY XYZZY COMPRESS=DEFLATE {EXTENSIONS}")
        );
        assert_eq!(
            names(&advertised(authenticated(false), limit)),
            format!("IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE NAMESPACE XCRY XYZZY {EXTENSIONS}")
        );
    }

    #[test]
    fn every_advertised_name_parses_back_case_insensitively() {
        let phases = [
            Phase::Authenticated {
                compress_available: true,
            },
            Phase::NotAuthenticated {
                tls: false,
                login_allowed: false,
            },
            Phase::NotAuthenticated {
                tls: true,
                login_allowed: true,
            },
        ];
        // Together these advertise every variant, so every one has a name.
        for cap in phases.into_iter().flat_map(|p| advertised(p, 1000)) {
            let name = cap.to_string();
            assert_eq!(Capability::from_name(&name), Some(cap), "{name}");
            assert_eq!(
                Capability::from_name(&name.to_ascii_lowercase()),
                Some(cap),
                "{name}"
            );
            assert!(!name.contains("AppendLimit"), "{name} has no wire name");
        }
        assert_eq!(
            Capability::from_name("imap4REV2"),
            Some(Capability::Imap4rev2)
        );
        assert_eq!(Capability::from_name("X-UNKNOWN"), None);
        assert_eq!(Capability::from_name("APPENDLIMIT=x"), None);
        assert_eq!(Capability::from_name(""), None);
    }
}
