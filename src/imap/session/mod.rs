//! One IMAP session from greeting to logout: the state machine (RFC 3501
//! §3), capabilities, the idle timeout, and dispatch of each command to its
//! handler in `imap::commands`. The commands that need the connection itself
//! live beside it: STARTTLS and authentication in `auth`, IDLE in `idle`,
//! the wait between commands while NOTIFY is in force in `notifying`. Never
//! chroots or reads account files itself: logging in is delegated to a
//! [`Login`] supplied by the caller, which also isolates the process.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{info, warn};
use openssl::ssl::SslAcceptor;

mod auth;
mod compress;
mod idle;
mod notifying;

use crate::imap::capability::{self, Phase};
use crate::imap::commands::selected::TaggedModseq;
use crate::imap::commands::{
    copy, enable, fetch, mailboxes, notify, replace, search, selected, sort, store, uidonly,
    updates, xcry,
};
use crate::imap::context::{Ctx, Reply};
use crate::imap::output::Spill;
use crate::imap::stream::Stream;
use crate::imap::wire::command::{Command, CommandBody, IdParams};
use crate::imap::wire::framing::{CommandReader, FrameError, Limits};
use crate::imap::wire::parser::{self, ParseOptions};
use crate::imap::wire::response::{NamespaceDescr, Response, ResponseCode, Status};
use crate::store::credentials::UnlockedAccount;
use crate::sys::conn::Conn;
use crate::sys::peer::ClientAddr;

/// What the caller tells the session about its connection and limits.
#[derive(Debug, Clone)]
pub(crate) struct SessionConfig {
    /// TLS from the first byte (`serve imaps`).
    pub implicit_tls: bool,
    /// Whether LOGIN/AUTHENTICATE may be used before TLS: only on loopback
    /// or a UNIX socket, where nobody can listen in.
    pub cleartext_login_allowed: bool,
    /// The client, for log lines and the login path: the socket's peer, or
    /// the address a trusted proxy forwards in `ID` (see [`Session::id`]).
    pub peer: ClientAddr,
    /// Client silence after which the session is logged out.
    pub idle_timeout: Duration,
    /// How long a failed login waits before it is answered.
    pub login_failure_delay: Duration,
    /// Failed logins after which the connection is closed.
    pub max_login_failures: u32,
    /// Largest message APPEND accepts.
    pub max_message_size: usize,
    /// The whole unauthenticated state (TLS handshake included) must end
    /// within this: a stranger holds a root process no longer.
    pub prelogin_timeout: Duration,
    /// One command, from its first byte to its last, must arrive within
    /// this (the idle timeout bounds each wait only).
    pub command_timeout: Duration,
    /// Commands accepted before login; the next one ends the connection.
    pub max_prelogin_commands: u32,
}

/// A successful login: the unlocked account and where its directory now is.
pub(crate) struct LoggedIn {
    /// The account its password unlocked (master key, and the cost at
    /// which a password change hashes the new password).
    pub account: UnlockedAccount,
    /// The user directory as the process now sees it (`/` once chrooted).
    pub dir: PathBuf,
    /// The login name the client gave (IMAP URLs in CATENATE must name
    /// this user).
    pub name: String,
}

/// Why a login did not succeed.
#[derive(Debug)]
pub(crate) enum LoginError {
    /// Unknown user or wrong password (never said which).
    BadCredentials,
    /// The account exists but cannot be opened now.
    Unavailable(String),
    /// Isolation failed half-way; the process must not go on.
    Fatal(String),
    /// Too many attempts for this user or address lately, across
    /// connections: the password was not checked.
    Throttled,
}

/// Authenticates a user and isolates the process in their directory.
pub(crate) trait Login {
    /// Checks `password` for `user`; on success the process is already
    /// chrooted and running as the directory's owner where it can be.
    fn login(&mut self, user: &str, password: &[u8]) -> Result<LoggedIn, LoginError>;
}

/// Why a session ended abnormally.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    /// The connection failed.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// TLS could not be negotiated.
    #[error("{0}")]
    Tls(#[from] crate::imap::stream::HandshakeError),
    /// Isolation after login failed; the session was refused.
    #[error("refused to serve: {0}")]
    Isolation(String),
}

/// The buffered connection: reads through a buffer, writes straight through.
pub(crate) struct Io {
    inner: BufReader<Stream>,
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl BufRead for Io {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt)
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.get_mut().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.get_mut().flush()
    }
}

/// The connection as the place a long answer streams to
/// ([`crate::imap::output`]): writes and flushes each chunk, so the client
/// (through TLS and DEFLATE alike) can parse it at once. A failed write
/// drops the connection, so the session ends at its next write instead of
/// waiting on a dead peer again.
pub(super) struct ToClient<'a>(pub(super) &'a mut Option<Io>);

/// What an output buffer keeps of its capacity between answers: twice a
/// streamed chunk. An answer larger than that (a whole large message) is
/// given back once sent.
const KEPT_BUFFER: usize = 2 * crate::imap::output::CHUNK;

/// When a session tries again the high-water marks its replies (or its
/// NOTIFY pushes, or IDLE's refreshes) could not raise because another
/// transaction held the mailbox lock (`ChangeLog::raise_mark`): while it
/// waits for the client, after 10 ms, then twice as long each time up to
/// once a second, for as long as the wait lasts and a mark is pending. It
/// used to stop after three tries within about a second, so a lock held a
/// little longer (a large transaction, a loaded machine) left the mark
/// behind until the client's next command. A raise that fails for another
/// reason than a busy lock gives the mark up, so the retries end.
#[derive(Debug)]
struct MarkRetry {
    next: Duration,
}

impl MarkRetry {
    const FIRST: Duration = Duration::from_millis(10);
    const LONGEST: Duration = Duration::from_secs(1);

    fn new() -> MarkRetry {
        MarkRetry { next: Self::FIRST }
    }

    /// How long to wait before the next try, given whether a mark is
    /// pending now (`None`: nothing to retry, and the back-off starts over).
    fn pause(&mut self, pending: bool) -> Option<Duration> {
        if !pending {
            self.next = Self::FIRST;
            return None;
        }
        let pause = self.next;
        self.next = (self.next * 2).min(Self::LONGEST);
        Some(pause)
    }
}

impl Spill for ToClient<'_> {
    fn spill(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let io = self
            .0
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection lost"))?;
        let sent = io.write_all(out).and_then(|()| io.flush());
        out.clear();
        // One large message's response must not stay allocated for the
        // rest of the session.
        out.shrink_to(KEPT_BUFFER);
        if sent.is_err() {
            *self.0 = None;
        }
        sent
    }
}

enum State {
    NotAuthenticated,
    Authenticated(Box<Ctx>),
}

/// What the loop does after a command.
enum Next {
    Continue,
    Close,
}

struct Session<L: Login> {
    io: Option<Io>,
    acceptor: SslAcceptor,
    config: SessionConfig,
    login: L,
    state: State,
    reader: CommandReader,
    failures: u32,
    out: Vec<u8>,
    /// The bounds after login (before it: [`Limits::before_login`]).
    limits: Limits,
    /// When the unauthenticated state ends, logged in or not.
    prelogin_deadline: Instant,
    /// Commands read before login.
    prelogin_commands: u32,
}

/// Serves one connection until logout, EOF, timeout or a fatal error.
pub(crate) fn run<L: Login>(
    conn: Conn,
    acceptor: SslAcceptor,
    config: SessionConfig,
    login: L,
) -> Result<(), SessionError> {
    let prelogin_deadline = Instant::now() + config.prelogin_timeout;
    // This process serves one connection, so one user: its APPENDs may
    // take a staging file made ahead (`sys::spare_file`).
    crate::sys::spare_file::enable();
    let mut stream = Stream::Plain(conn);
    // A slow handshake is part of the unauthenticated state too.
    stream.set_deadline(Some(prelogin_deadline));
    if config.implicit_tls {
        stream = stream.accept_tls(&acceptor)?;
    }
    let limits = Limits {
        max_append_literal: config.max_message_size,
        ..Limits::default()
    };
    let mut s = Session {
        io: Some(Io {
            inner: BufReader::with_capacity(64 * 1024, stream),
        }),
        acceptor,
        reader: CommandReader::new(Limits::before_login()),
        config,
        login,
        state: State::NotAuthenticated,
        failures: 0,
        out: Vec::with_capacity(4096),
        limits,
        prelogin_deadline,
        prelogin_commands: 0,
    };
    s.greet()?;
    let result = s.serve();
    // The staging file made ahead for a next APPEND is not needed now.
    crate::sys::spare_file::discard();
    if let Some(io) = s.io.as_mut() {
        io.inner.get_mut().shutdown_tls();
    }
    result
}

impl<L: Login> Session<L> {
    fn io(&mut self) -> io::Result<&mut Io> {
        self.io
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection lost"))
    }

    fn is_tls(&self) -> bool {
        self.io
            .as_ref()
            .is_some_and(|io| io.inner.get_ref().is_tls())
    }

    fn is_compressed(&self) -> bool {
        self.io
            .as_ref()
            .is_some_and(|io| io.inner.get_ref().is_compressed())
    }

    fn greet(&mut self) -> Result<(), SessionError> {
        let caps = self.capabilities();
        self.untagged_status(
            Status::Ok,
            Some(ResponseCode::Capability(caps)),
            "crymap-like ready",
        );
        self.flush()?;
        Ok(())
    }

    /// The capability list for the current state and connection, as the
    /// wire names the response writer takes.
    fn capabilities(&self) -> Vec<String> {
        let phase = match self.state {
            State::NotAuthenticated => Phase::NotAuthenticated {
                tls: self.is_tls(),
                login_allowed: self.is_tls() || self.config.cleartext_login_allowed,
            },
            State::Authenticated(_) => Phase::Authenticated {
                compress_available: !self.is_compressed(),
            },
        };
        capability::advertised(phase, self.config.max_message_size as u64)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated(_))
    }

    /// Bounds every read from now on by `deadline` (or only by the idle
    /// timeout, with `None`).
    fn set_deadline(&mut self, deadline: Option<Instant>) {
        if let Some(io) = self.io.as_mut() {
            io.inner.get_mut().set_deadline(deadline);
        }
    }

    /// Ends the session with `* BYE reason`, best effort.
    fn bye(&mut self, reason: &str) -> Result<(), SessionError> {
        self.untagged_status(Status::Bye, None, reason);
        let _ = self.flush();
        info!("{}: closed: {reason}", self.config.peer);
        Ok(())
    }

    fn serve(&mut self) -> Result<(), SessionError> {
        loop {
            if !self.wait_for_input()? {
                if !self.authenticated() {
                    return self.bye("Too long without logging in");
                }
                return self.bye("Autologout; idle for too long");
            }
            // A deadline for the whole command, not for each read; before
            // login also the one for the whole unauthenticated state.
            let mut deadline = Instant::now() + self.config.command_timeout;
            if self.authenticated() {
                self.reader.set_limits(self.limits);
            } else {
                self.reader.set_limits(Limits::before_login());
                deadline = deadline.min(self.prelogin_deadline);
                self.prelogin_commands += 1;
                if self.prelogin_commands > self.config.max_prelogin_commands {
                    return self.bye("Too many commands without logging in");
                }
            }
            self.set_deadline(Some(deadline));
            let io = match self.io.as_mut() {
                Some(io) => io,
                None => return Ok(()),
            };
            let read = self.reader.read_command(io);
            // Reads while a command runs (AUTHENTICATE's response, IDLE's
            // DONE) keep the unauthenticated state's deadline, or only the
            // idle timeout after login.
            let after = (!self.authenticated()).then_some(self.prelogin_deadline);
            self.set_deadline(after);
            // The command may hold a password: wiped when dropped.
            let raw = zeroize::Zeroizing::new(match read {
                Ok(raw) => raw,
                Err(FrameError::Eof) => return Ok(()),
                Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {
                    return self.bye("Autologout; command not completed in time");
                }
                Err(FrameError::Io(e)) => return Err(e.into()),
                Err(FrameError::Rejected { tag, reason, no }) => {
                    let status = if no { Status::No } else { Status::Bad };
                    let code = no.then_some(ResponseCode::TooBig);
                    Response::status(tag.as_deref(), status, code, &reason).encode(&mut self.out);
                    self.flush()?;
                    continue;
                }
                Err(FrameError::Fatal(reason)) => {
                    return self.bye(&reason);
                }
            });
            let utf8_accept = match &self.state {
                State::Authenticated(ctx) => ctx.enabled.utf8_accept,
                State::NotAuthenticated => false,
            };
            let opts = ParseOptions { utf8_accept };
            let next = match parser::parse_command(&raw, &opts) {
                Ok(cmd) => self.dispatch(cmd)?,
                Err(e) => {
                    let status = if e.no { Status::No } else { Status::Bad };
                    Response::status(e.tag.as_deref(), status, None, &e.reason)
                        .encode(&mut self.out);
                    Next::Continue
                }
            };
            self.flush()?;
            if let State::Authenticated(ctx) = &mut self.state {
                ctx.after_reply();
            }
            if let Next::Close = next {
                return Ok(());
            }
        }
    }

    /// Waits for the client; false when it stayed silent too long.
    /// Meanwhile it pushes NOTIFY events and retries pending high-water
    /// marks ([`MarkRetry`]); neither delays the other, since a retry only
    /// shortens the wait on the client and the NOTIFY watches.
    fn wait_for_input(&mut self) -> io::Result<bool> {
        let mut timeout = self.config.idle_timeout;
        if !self.authenticated() {
            timeout = timeout.min(
                self.prelogin_deadline
                    .saturating_duration_since(Instant::now()),
            );
        }
        let deadline = Instant::now() + timeout;
        let mut retry = MarkRetry::new();
        loop {
            if !self.io()?.inner.buffer().is_empty() {
                return Ok(true);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let wait = retry
                .pause(self.marks_pending())
                .map_or(remaining, |p| p.min(remaining));
            let input = if self.notifying() {
                self.wait_notifying(wait)?
            } else {
                self.io()?.inner.get_ref().wait_readable(wait)?
            };
            if input {
                return Ok(true);
            }
            self.raise_marks();
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }

    /// Whether a high-water mark is left to raise ([`Ctx::marks_pending`]).
    fn marks_pending(&self) -> bool {
        matches!(&self.state, State::Authenticated(ctx) if ctx.marks_pending())
    }

    /// Raises the marks left pending, if the locks are free now.
    fn raise_marks(&mut self) {
        if let State::Authenticated(ctx) = &mut self.state {
            ctx.after_reply();
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let io = self.io()?;
        io.write_all(&out)?;
        io.flush()?;
        self.out = out;
        self.out.clear();
        self.out.shrink_to(KEPT_BUFFER);
        Ok(())
    }

    fn untagged_status(&mut self, status: Status, code: Option<ResponseCode>, text: &str) {
        Response::status(None, status, code, text).encode(&mut self.out);
    }

    fn tagged(&mut self, tag: &str, status: Status, code: Option<ResponseCode>, text: &str) {
        Response::status(Some(tag), status, code, text).encode(&mut self.out);
    }

    fn dispatch(&mut self, cmd: Command) -> Result<Next, SessionError> {
        let tag = cmd.tag.0.clone();
        let authenticated = matches!(self.state, State::Authenticated(_));
        match cmd.body {
            CommandBody::Capability => {
                let caps = self.capabilities();
                Response::Capability(caps.into_iter().map(Into::into).collect())
                    .encode(&mut self.out);
                self.tagged(&tag, Status::Ok, None, "CAPABILITY completed");
            }
            CommandBody::Noop if !authenticated => {
                self.tagged(&tag, Status::Ok, None, "NOOP completed")
            }
            CommandBody::Logout => {
                // Gone before the client hears the OK (which it may take
                // as the end of everything the session wrote).
                crate::sys::spare_file::discard();
                self.untagged_status(Status::Bye, None, "Logging out");
                self.tagged(&tag, Status::Ok, None, "LOGOUT completed");
                return Ok(Next::Close);
            }
            CommandBody::Id { params } => self.id(&tag, params),
            CommandBody::Xyzzy => {
                self.untagged_status(Status::Ok, None, "Nothing happens.");
                self.tagged(&tag, Status::Ok, None, "XYZZY completed");
            }
            CommandBody::StartTls => return self.starttls(&tag),
            CommandBody::Login { username, password } if !authenticated => {
                let password = zeroize::Zeroizing::new(password);
                return self.login(&tag, &username, &password);
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } if !authenticated => return self.authenticate(&tag, &mechanism, initial_response),
            CommandBody::Login { .. } | CommandBody::Authenticate { .. } => {
                self.tagged(&tag, Status::Bad, None, "Already logged in")
            }
            _ if !authenticated => self.tagged(&tag, Status::Bad, None, "Log in first"),
            CommandBody::Idle => return self.idle(&tag),
            CommandBody::Compress { algorithm } => return self.compress(&tag, &algorithm),
            body => self.dispatch_user(&tag, body),
        }
        Ok(Next::Continue)
    }

    /// Runs a command of the authenticated or selected state, then reports
    /// what changed in the selected mailbox (where the RFCs allow it)
    /// before the tagged line.
    fn dispatch_user(&mut self, tag: &str, body: CommandBody) {
        let State::Authenticated(ctx) = &mut self.state else {
            return;
        };
        let out = &mut self.out;
        if let Some(refused) = uidonly::refuse(ctx.enabled, &body) {
            Response::status(Some(tag), refused.status, refused.code, &refused.text).encode(out);
            return;
        }
        // RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH
        // by sequence number, since the client's numbers would shift.
        let expunge_allowed = !matches!(
            &body,
            CommandBody::Fetch(f) if !f.uid
        ) && !matches!(&body, CommandBody::Store(s) if !s.uid)
            && !matches!(&body, CommandBody::Search(s) if !s.uid)
            && !matches!(&body, CommandBody::Sort(s) if !s.uid)
            && !matches!(&body, CommandBody::Thread(t) if !t.uid);
        let tagged_modseq = match &body {
            CommandBody::Expunge
            | CommandBody::UidExpunge { .. }
            | CommandBody::XVanquish { .. }
            | CommandBody::Move { .. }
            | CommandBody::Replace { .. }
            | CommandBody::Store(_) => TaggedModseq::Always,
            CommandBody::Fetch(_)
            | CommandBody::Search(_)
            | CommandBody::Sort(_)
            | CommandBody::Thread(_) => TaggedModseq::WhenBehind,
            _ => TaggedModseq::Never,
        };
        if !expunge_allowed {
            selected::refresh_flags(ctx, out);
        }
        let own_adds = matches!(
            &body,
            CommandBody::Append { .. }
                | CommandBody::Copy { .. }
                | CommandBody::Move { .. }
                | CommandBody::Replace { .. }
        );
        let mut reply = match body {
            CommandBody::Noop => Reply::ok("NOOP completed"),
            CommandBody::Check => match ctx.selected {
                Some(_) => Reply::ok("CHECK completed"),
                None => Reply::bad("No mailbox selected"),
            },
            CommandBody::Namespace => {
                // One personal namespace, the user's own tree, delimited by '/'.
                Response::Namespace {
                    personal: vec![NamespaceDescr {
                        prefix: "".into(),
                        delimiter: Some('/'),
                    }],
                    other: Vec::new(),
                    shared: Vec::new(),
                }
                .encode(out);
                Reply::ok("NAMESPACE completed")
            }
            CommandBody::Enable { capabilities } => enable::enable(ctx, out, &capabilities),
            CommandBody::XCry(x) => xcry::xcry(ctx, out, x),
            CommandBody::Create {
                mailbox,
                special_use,
            } => mailboxes::create(ctx, out, &mailbox, &special_use),
            CommandBody::Delete { mailbox } => mailboxes::delete(ctx, out, &mailbox),
            CommandBody::Rename { from, to } => mailboxes::rename(ctx, out, &from, &to),
            CommandBody::Subscribe { mailbox } => mailboxes::subscribe(ctx, out, &mailbox, true),
            CommandBody::Unsubscribe { mailbox } => mailboxes::subscribe(ctx, out, &mailbox, false),
            CommandBody::List(cmd) => mailboxes::list(ctx, out, &cmd),
            CommandBody::Lsub { reference, pattern } => {
                mailboxes::lsub_or_xlist(ctx, out, &reference, &pattern, false)
            }
            CommandBody::XList { reference, pattern } => {
                mailboxes::lsub_or_xlist(ctx, out, &reference, &pattern, true)
            }
            CommandBody::Status { mailbox, items } => mailboxes::status(ctx, out, &mailbox, &items),
            CommandBody::Append { mailbox, messages } => {
                mailboxes::append(ctx, out, &mailbox, &messages)
            }
            CommandBody::Select { mailbox, params } => {
                selected::select(ctx, out, &mailbox, &params, false)
            }
            CommandBody::Examine { mailbox, params } => {
                selected::select(ctx, out, &mailbox, &params, true)
            }
            CommandBody::Close => selected::close(ctx, out, true),
            CommandBody::Unselect => selected::close(ctx, out, false),
            CommandBody::Expunge => selected::expunge(ctx, out, None, false),
            CommandBody::UidExpunge { uids } => selected::expunge(ctx, out, Some(&uids), false),
            CommandBody::XVanquish { uids } => selected::expunge(ctx, out, Some(&uids), true),
            CommandBody::Store(cmd) => store::store(ctx, out, &cmd),
            CommandBody::Copy { uid, set, mailbox } => {
                copy::copy(ctx, out, uid, &set, &mailbox, false)
            }
            CommandBody::Move { uid, set, mailbox } => {
                copy::copy(ctx, out, uid, &set, &mailbox, true)
            }
            CommandBody::Replace {
                uid,
                target,
                mailbox,
                message,
            } => replace::replace(ctx, out, uid, target, &mailbox, &message),
            CommandBody::Fetch(cmd) => fetch::fetch(ctx, out, &cmd, &mut ToClient(&mut self.io)),
            CommandBody::Search(cmd) => search::search(ctx, out, tag, &cmd),
            CommandBody::Sort(cmd) => sort::sort(ctx, out, tag, &cmd),
            CommandBody::Thread(cmd) => sort::thread(ctx, out, &cmd),
            CommandBody::CancelUpdate { tags } => updates::cancel(ctx, &tags),
            CommandBody::Notify(cmd) => notify::notify(ctx, out, &cmd),
            other => Reply::bad(format!(
                "{} is not implemented by this server",
                command_name(&other)
            )),
        };
        notify::refresh_after_command(
            ctx,
            out,
            expunge_allowed,
            own_adds,
            &mut ToClient(&mut self.io),
        );
        selected::tag_highest_modseq(ctx, tagged_modseq, &mut reply);
        Response::status(Some(tag), reply.status, reply.code, &reply.text).encode(&mut self.out);
    }

    /// RFC 2971 ID. Before login, a proxy's `x-originating-ip` (and
    /// `x-originating-port`), which Dovecot's proxy sends ahead of LOGIN,
    /// becomes the session's client address when the peer is a trusted
    /// proxy (`security.trusted_proxies`), and is only logged otherwise.
    fn id(&mut self, tag: &str, params: Option<IdParams>) {
        if let Some(params) = params {
            if matches!(self.state, State::NotAuthenticated) {
                self.take_forwarded_address(&params);
            }
            let fields: Vec<String> = params
                .iter()
                .take(30)
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        String::from_utf8_lossy(k),
                        v.as_deref()
                            .map(String::from_utf8_lossy)
                            .unwrap_or_else(|| "NIL".into())
                    )
                })
                .collect();
            info!("{}: client ID {}", self.config.peer, fields.join(", "));
        }
        let field =
            |k: &'static str, v: &'static str| (k.as_bytes().into(), Some(v.as_bytes().into()));
        Response::Id(Some(vec![
            field("name", "crymap-like"),
            field("version", env!("CARGO_PKG_VERSION")),
        ]))
        .encode(&mut self.out);
        self.tagged(tag, Status::Ok, None, "ID completed");
    }
}

impl<L: Login> Session<L> {
    /// The effective client address (the forwarded one behind a trusted
    /// proxy): what a per-address login throttle keys on.
    pub(super) fn client_ip(&self) -> Option<std::net::IpAddr> {
        self.config.peer.ip()
    }

    fn take_forwarded_address(&mut self, params: &IdParams) {
        let field = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
                .and_then(|(_, v)| v.as_deref())
                .and_then(|v| std::str::from_utf8(v).ok())
        };
        let Some(ip) = field("x-originating-ip") else {
            return;
        };
        let Ok(ip) = ip
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
        else {
            warn!(
                "{}: ID x-originating-ip is not an address; ignored",
                self.config.peer
            );
            return;
        };
        let port = field("x-originating-port")
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or(0);
        let before = self.config.peer.to_string();
        if self
            .config
            .peer
            .forward(std::net::SocketAddr::new(ip, port))
        {
            info!("{before}: proxy forwards client {}", self.config.peer);
        } else {
            warn!(
                "{before}: x-originating-ip from a peer not in security.trusted_proxies; ignored"
            );
        }
    }
}

/// The command's name, for messages.
fn command_name(body: &CommandBody) -> &'static str {
    match body {
        CommandBody::Select { .. } => "SELECT",
        CommandBody::Examine { .. } => "EXAMINE",
        CommandBody::Create { .. } => "CREATE",
        CommandBody::Delete { .. } => "DELETE",
        CommandBody::Rename { .. } => "RENAME",
        CommandBody::Subscribe { .. } => "SUBSCRIBE",
        CommandBody::Unsubscribe { .. } => "UNSUBSCRIBE",
        CommandBody::List(_) => "LIST",
        CommandBody::Lsub { .. } => "LSUB",
        CommandBody::XList { .. } => "XLIST",
        CommandBody::Status { .. } => "STATUS",
        CommandBody::Append { .. } => "APPEND",
        CommandBody::Replace { uid: false, .. } => "REPLACE",
        CommandBody::Replace { uid: true, .. } => "UID REPLACE",
        CommandBody::Idle => "IDLE",
        CommandBody::Compress { .. } => "COMPRESS",
        CommandBody::Check => "CHECK",
        CommandBody::Close => "CLOSE",
        CommandBody::Unselect => "UNSELECT",
        CommandBody::Expunge => "EXPUNGE",
        CommandBody::UidExpunge { .. } => "UID EXPUNGE",
        CommandBody::Search(_) => "SEARCH",
        CommandBody::Sort(_) => "SORT",
        CommandBody::Thread(_) => "THREAD",
        CommandBody::Fetch(_) => "FETCH",
        CommandBody::Store(_) => "STORE",
        CommandBody::Copy { .. } => "COPY",
        CommandBody::Move { .. } => "MOVE",
        CommandBody::XVanquish { .. } => "XVANQUISH",
        CommandBody::Xyzzy => "XYZZY",
        CommandBody::Notify(_) => "NOTIFY",
        CommandBody::Enable { .. } => "ENABLE",
        CommandBody::Namespace => "NAMESPACE",
        CommandBody::XCry(_) => "XCRY",
        CommandBody::Capability => "CAPABILITY",
        CommandBody::Noop => "NOOP",
        CommandBody::Logout => "LOGOUT",
        CommandBody::StartTls => "STARTTLS",
        CommandBody::Authenticate { .. } => "AUTHENTICATE",
        CommandBody::Login { .. } => "LOGIN",
        CommandBody::Id { .. } => "ID",
        CommandBody::CancelUpdate { .. } => "CANCELUPDATE",
    }
}
