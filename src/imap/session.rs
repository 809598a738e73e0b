//! One IMAP session from greeting to logout: protocol states (RFC 3501 §3),
//! capabilities, STARTTLS, authentication, the idle timeout, and dispatch of
//! each command. Never chroots or reads account files itself: logging in is
//! delegated to a [`Login`] supplied by the caller, which also isolates the
//! process.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{info, warn};
use openssl::ssl::SslAcceptor;

use super::command::{Command, CommandBody, IdParams, XCryCommand};
use super::context::{Ctx, CtxLimits, Reply};
use super::framing::{CommandReader, FrameError, Limits};
use super::parser::{self, ParseOptions};
use super::response::{self, status_line, ResponseCode, Status};
use super::stream::Stream;
use super::{fetch, mailboxes, search, selected};
use crate::crypto::kdf::KdfParams;
use crate::crypto::secret::MasterKey;
use crate::store::user_file;
use crate::sys::conn::Conn;
use crate::sys::inotify::DirWatcher;
use crate::sys::poll;

/// What the caller tells the session about its connection and limits.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// TLS from the first byte (`serve imaps`).
    pub implicit_tls: bool,
    /// Whether LOGIN/AUTHENTICATE may be used before TLS: only on loopback
    /// or a UNIX socket, where nobody can listen in.
    pub cleartext_login_allowed: bool,
    /// The peer, for log lines.
    pub peer: String,
    /// Client silence after which the session is logged out.
    pub idle_timeout: Duration,
    /// How long a failed login waits before it is answered.
    pub login_failure_delay: Duration,
    /// Failed logins after which the connection is closed.
    pub max_login_failures: u32,
    /// Largest message APPEND accepts.
    pub max_message_size: usize,
}

/// A successful login: the user's keys and where their directory now is.
pub struct LoggedIn {
    /// The user name.
    pub user: String,
    /// The unlocked master key.
    pub master: MasterKey,
    /// The user directory as the process now sees it (`/` once chrooted).
    pub dir: PathBuf,
    /// KDF parameters for password changes.
    pub kdf: KdfParams,
}

/// Why a login did not succeed.
#[derive(Debug)]
pub enum LoginError {
    /// Unknown user or wrong password (never said which).
    BadCredentials,
    /// The account exists but cannot be opened now.
    Unavailable(String),
    /// Isolation failed half-way; the process must not go on.
    Fatal(String),
}

/// Authenticates a user and isolates the process in their directory.
pub trait Login {
    /// Checks `password` for `user`; on success the process is already
    /// chrooted and running as the directory's owner where it can be.
    fn login(&mut self, user: &str, password: &[u8]) -> Result<LoggedIn, LoginError>;
}

/// Why a session ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The connection failed.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// TLS could not be negotiated.
    #[error("{0}")]
    Tls(#[from] super::stream::HandshakeError),
    /// Isolation after login failed; the session was refused.
    #[error("refused to serve: {0}")]
    Isolation(String),
}

/// The buffered connection: reads through a buffer, writes straight through.
pub struct Io {
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
}

/// Serves one connection until logout, EOF, timeout or a fatal error.
pub fn run<L: Login>(
    conn: Conn,
    acceptor: SslAcceptor,
    config: SessionConfig,
    login: L,
) -> Result<(), SessionError> {
    let mut stream = Stream::Plain(conn);
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
        reader: CommandReader::new(limits),
        config,
        login,
        state: State::NotAuthenticated,
        failures: 0,
        out: Vec::with_capacity(4096),
    };
    s.greet()?;
    let result = s.serve();
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

    fn greet(&mut self) -> Result<(), SessionError> {
        let caps = self.capabilities();
        self.untagged_status(
            Status::Ok,
            Some(&ResponseCode::Capability(caps)),
            "crymap-like ready",
        );
        self.flush()?;
        Ok(())
    }

    /// The capability list for the current state and connection. Only what
    /// works end to end is listed.
    fn capabilities(&self) -> Vec<String> {
        let mut caps: Vec<&str> = vec!["IMAP4rev1", "IMAP4rev2", "LITERAL+", "ID", "ENABLE"];
        match self.state {
            State::NotAuthenticated => {
                caps.push("SASL-IR");
                if !self.is_tls() {
                    caps.push("STARTTLS");
                }
                if self.is_tls() || self.config.cleartext_login_allowed {
                    caps.push("AUTH=PLAIN");
                } else {
                    caps.push("LOGINDISABLED");
                }
            }
            State::Authenticated(_) => {
                caps.push("NAMESPACE");
                caps.push("XCRY");
                caps.push("XYZZY");
            }
        }
        caps.extend_from_slice(mailboxes::CAPABILITIES);
        caps.extend_from_slice(selected::CAPABILITIES);
        caps.extend_from_slice(fetch::CAPABILITIES);
        caps.extend_from_slice(search::CAPABILITIES);
        caps.into_iter()
            .map(|c| match c {
                // RFC 7889: the one limit that applies to every mailbox.
                "APPENDLIMIT" => format!("APPENDLIMIT={}", self.config.max_message_size),
                c => c.to_owned(),
            })
            .collect()
    }

    fn serve(&mut self) -> Result<(), SessionError> {
        loop {
            if !self.wait_for_input()? {
                self.untagged_status(Status::Bye, None, "Autologout; idle for too long");
                let _ = self.flush();
                info!("{}: idle timeout", self.config.peer);
                return Ok(());
            }
            let io = match self.io.as_mut() {
                Some(io) => io,
                None => return Ok(()),
            };
            let raw = match self.reader.read_command(io) {
                Ok(raw) => raw,
                Err(FrameError::Eof) => return Ok(()),
                Err(FrameError::Io(e)) => return Err(e.into()),
                Err(FrameError::Rejected { tag, reason, no }) => {
                    let status = if no { Status::No } else { Status::Bad };
                    let code = no.then_some(ResponseCode::TooBig);
                    self.out
                        .extend(status_line(tag.as_deref(), status, code.as_ref(), &reason));
                    self.flush()?;
                    continue;
                }
                Err(FrameError::Fatal(reason)) => {
                    self.untagged_status(Status::Bye, None, &reason);
                    let _ = self.flush();
                    info!("{}: closed: {reason}", self.config.peer);
                    return Ok(());
                }
            };
            let utf8_accept = match &self.state {
                State::Authenticated(ctx) => ctx.enabled.utf8_accept,
                State::NotAuthenticated => false,
            };
            let opts = ParseOptions { utf8_accept };
            let next = match parser::parse_command(&raw, &opts) {
                Ok(cmd) => self.dispatch(cmd)?,
                Err(e) => {
                    let status = if e.no { Status::No } else { Status::Bad };
                    self.out
                        .extend(status_line(e.tag.as_deref(), status, None, &e.reason));
                    Next::Continue
                }
            };
            self.flush()?;
            if let Next::Close = next {
                return Ok(());
            }
        }
    }

    /// Waits for the client; false when it stayed silent too long.
    fn wait_for_input(&mut self) -> io::Result<bool> {
        let timeout = self.config.idle_timeout;
        let io = self.io()?;
        if !io.inner.buffer().is_empty() {
            return Ok(true);
        }
        io.inner.get_ref().wait_readable(timeout)
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
        Ok(())
    }

    fn untagged_status(&mut self, status: Status, code: Option<&ResponseCode>, text: &str) {
        self.out.extend(status_line(None, status, code, text));
    }

    fn tagged(&mut self, tag: &str, status: Status, code: Option<ResponseCode>, text: &str) {
        self.out
            .extend(status_line(Some(tag), status, code.as_ref(), text));
    }

    fn dispatch(&mut self, cmd: Command) -> Result<Next, SessionError> {
        let tag = cmd.tag.0.clone();
        let authenticated = matches!(self.state, State::Authenticated(_));
        match cmd.body {
            CommandBody::Capability => {
                let caps = self.capabilities();
                self.out.extend_from_slice(b"* CAPABILITY");
                for c in &caps {
                    self.out.push(b' ');
                    self.out.extend_from_slice(c.as_bytes());
                }
                self.out.extend_from_slice(b"\r\n");
                self.tagged(&tag, Status::Ok, None, "CAPABILITY completed");
            }
            CommandBody::Noop if !authenticated => {
                self.tagged(&tag, Status::Ok, None, "NOOP completed")
            }
            CommandBody::Logout => {
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
                return self.login(&tag, &username, &password)
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
        // RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH
        // by sequence number, since the client's numbers would shift.
        let expunge_allowed = !matches!(
            &body,
            CommandBody::Fetch(f) if !f.uid
        ) && !matches!(&body, CommandBody::Store(s) if !s.uid)
            && !matches!(&body, CommandBody::Search(s) if !s.uid);
        let reply = match body {
            CommandBody::Noop => Reply::ok("NOOP completed"),
            CommandBody::Check => match ctx.selected {
                Some(_) => Reply::ok("CHECK completed"),
                None => Reply::bad("No mailbox selected"),
            },
            CommandBody::Namespace => {
                out.extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                Reply::ok("NAMESPACE completed")
            }
            CommandBody::Enable { capabilities } => selected::enable(ctx, out, &capabilities),
            CommandBody::XCry(XCryCommand::Purge) => selected::purge(ctx, out),
            CommandBody::XCry(x) => xcry(ctx, out, x),
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
            CommandBody::Store(cmd) => selected::store(ctx, out, &cmd),
            CommandBody::Copy { uid, set, mailbox } => {
                selected::copy(ctx, out, uid, &set, &mailbox, false)
            }
            CommandBody::Move { uid, set, mailbox } => {
                selected::copy(ctx, out, uid, &set, &mailbox, true)
            }
            CommandBody::Fetch(cmd) => fetch::fetch(ctx, out, &cmd),
            CommandBody::Search(cmd) => search::search(ctx, out, tag, &cmd),
            other => Reply::bad(format!(
                "{} is not implemented by this server",
                command_name(&other)
            )),
        };
        selected::refresh(ctx, out, expunge_allowed);
        self.out.extend(status_line(
            Some(tag),
            reply.status,
            reply.code.as_ref(),
            &reply.text,
        ));
    }

    /// RFC 2177 IDLE: reports changes to the selected mailbox (and files
    /// deliveries) as they happen, until the client sends `DONE`. Changes
    /// are noticed through inotify on the mailbox's log and the spool, so
    /// they reach the client within milliseconds; polling is the fallback.
    fn idle(&mut self, tag: &str) -> Result<Next, SessionError> {
        let State::Authenticated(ctx) = &mut self.state else {
            return Ok(Next::Continue);
        };
        selected::refresh(ctx, &mut self.out, true);
        let mut watcher = DirWatcher::new();
        for dir in selected::watch_dirs(ctx) {
            if let Err(e) = watcher.watch(&dir) {
                warn!("IDLE falls back to polling: {e}");
                watcher = DirWatcher::polling();
                break;
            }
        }
        self.out.extend_from_slice(b"+ idling\r\n");
        self.flush()?;
        let deadline = Instant::now() + self.config.idle_timeout;
        loop {
            let io = self.io()?;
            let stream = io.inner.get_ref();
            let (client, changed) = if !io.inner.buffer().is_empty() || stream.has_pending() {
                (true, false)
            } else {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    self.untagged_status(Status::Bye, None, "Autologout; idle for too long");
                    let _ = self.flush();
                    info!("{}: idle timeout during IDLE", self.config.peer);
                    return Ok(Next::Close);
                }
                let wait = watcher
                    .suggested_timeout()
                    .map_or(remaining, |t| t.min(remaining));
                let mut fds = vec![stream.read_fd()];
                fds.extend(watcher.fd());
                let ready = poll::wait_any(&fds, Some(wait)).map_err(io::Error::other)?;
                let client = ready.first().copied().unwrap_or(false);
                let changed = watcher.is_polling() || ready.get(1).copied().unwrap_or(false);
                (client, changed)
            };
            if changed {
                if let Err(e) = watcher.drain() {
                    warn!("IDLE watcher failed, polling instead: {e}");
                    watcher = DirWatcher::polling();
                }
                if let State::Authenticated(ctx) = &mut self.state {
                    selected::refresh(ctx, &mut self.out, true);
                }
                self.flush()?;
            }
            if !client {
                continue;
            }
            let line = match self.read_inner_line(tag)? {
                Ok(l) => l,
                Err(next) => return Ok(next),
            };
            if let State::Authenticated(ctx) = &mut self.state {
                selected::refresh(ctx, &mut self.out, true);
            }
            if line.eq_ignore_ascii_case(b"DONE") {
                self.tagged(tag, Status::Ok, None, "IDLE terminated");
            } else {
                self.tagged(tag, Status::Bad, None, "Expected DONE to end IDLE");
            }
            return Ok(Next::Continue);
        }
    }

    /// Reads one line the client sends inside a command (AUTHENTICATE
    /// data, IDLE's DONE). `Ok(Err(next))` when the command is over
    /// instead: end of input, or an unreadable line already answered BAD.
    fn read_inner_line(&mut self, tag: &str) -> Result<Result<Vec<u8>, Next>, SessionError> {
        let io = self
            .io
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection lost"))?;
        match self.reader.read_line(io) {
            Ok(l) => Ok(Ok(l)),
            Err(FrameError::Eof) => Ok(Err(Next::Close)),
            Err(FrameError::Io(e)) => Err(e.into()),
            Err(FrameError::Rejected { reason, .. }) | Err(FrameError::Fatal(reason)) => {
                self.tagged(tag, Status::Bad, None, &reason);
                Ok(Err(Next::Continue))
            }
        }
    }

    fn id(&mut self, tag: &str, params: Option<IdParams>) {
        if let Some(params) = params {
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
        self.out
            .extend_from_slice(b"* ID (\"name\" \"crymap-like\" \"version\" ");
        response::write_string(&mut self.out, env!("CARGO_PKG_VERSION").as_bytes());
        self.out.extend_from_slice(b")\r\n");
        self.tagged(tag, Status::Ok, None, "ID completed");
    }

    fn starttls(&mut self, tag: &str) -> Result<Next, SessionError> {
        if self.is_tls() {
            self.tagged(tag, Status::Bad, None, "TLS is already active");
            return Ok(Next::Continue);
        }
        if !matches!(self.state, State::NotAuthenticated) {
            self.tagged(tag, Status::Bad, None, "STARTTLS only before login");
            return Ok(Next::Continue);
        }
        let Some(io) = self.io.take() else {
            return Ok(Next::Close);
        };
        if !io.inner.buffer().is_empty() {
            // Anything sent after STARTTLS but before the handshake could have
            // been injected by a man in the middle (CVE-2011-0411 style).
            self.io = Some(io);
            self.untagged_status(
                Status::Bye,
                None,
                "Data after STARTTLS before the TLS handshake",
            );
            return Ok(Next::Close);
        }
        let mut stream = io.inner.into_inner();
        let ok = status_line(Some(tag), Status::Ok, None, "Begin TLS negotiation now");
        stream.write_all(&ok)?;
        stream.flush()?;
        let stream = stream.accept_tls(&self.acceptor)?;
        self.io = Some(Io {
            inner: BufReader::with_capacity(64 * 1024, stream),
        });
        Ok(Next::Continue)
    }

    /// Answers `NO [PRIVACYREQUIRED]` (and returns true) when credentials
    /// would travel in the clear over a network (RFC 9051 §6.2.3).
    fn refuse_cleartext_login(&mut self, tag: &str) -> bool {
        if self.is_tls() || self.config.cleartext_login_allowed {
            return false;
        }
        self.tagged(
            tag,
            Status::No,
            Some(ResponseCode::PrivacyRequired),
            "Use STARTTLS before logging in",
        );
        true
    }

    fn login(&mut self, tag: &str, user: &[u8], password: &[u8]) -> Result<Next, SessionError> {
        if self.refuse_cleartext_login(tag) {
            return Ok(Next::Continue);
        }
        let user = match std::str::from_utf8(user) {
            Ok(u) => u.to_owned(),
            Err(_) => {
                return self.failed_login(tag, "<not UTF-8>", "user name is not UTF-8");
            }
        };
        match self.login.login(&user, password) {
            Ok(logged_in) => {
                info!("{}: {user} logged in", self.config.peer);
                crate::sys::log::set_context(Some(&user));
                let limits = CtxLimits {
                    max_message_size: self.config.max_message_size,
                };
                let mut ctx = match Ctx::open(logged_in, limits) {
                    Ok(c) => c,
                    Err(e) => {
                        warn!("{}: {e}", self.config.peer);
                        self.untagged_status(
                            Status::Bye,
                            Some(&ResponseCode::ServerBug),
                            "The account cannot be opened; see the server log",
                        );
                        return Ok(Next::Close);
                    }
                };
                selected::after_login(&mut ctx);
                self.state = State::Authenticated(Box::new(ctx));
                let caps = self.capabilities();
                self.tagged(
                    tag,
                    Status::Ok,
                    Some(ResponseCode::Capability(caps)),
                    "Logged in",
                );
                Ok(Next::Continue)
            }
            Err(LoginError::BadCredentials) => {
                self.failed_login(tag, &user, "wrong user name or password")
            }
            Err(LoginError::Unavailable(why)) => {
                warn!("{}: login of {user} failed: {why}", self.config.peer);
                self.tagged(
                    tag,
                    Status::No,
                    Some(ResponseCode::Unavailable),
                    "The account cannot be opened now",
                );
                Ok(Next::Continue)
            }
            Err(LoginError::Fatal(why)) => {
                warn!("{}: refusing to serve {user}: {why}", self.config.peer);
                self.untagged_status(Status::Bye, None, "Internal error; see the server log");
                let _ = self.flush();
                Err(SessionError::Isolation(why))
            }
        }
    }

    fn failed_login(&mut self, tag: &str, user: &str, why: &str) -> Result<Next, SessionError> {
        self.failures += 1;
        warn!(
            "{}: failed login #{} for {user:?}: {why}",
            self.config.peer, self.failures
        );
        std::thread::sleep(self.config.login_failure_delay);
        self.tagged(
            tag,
            Status::No,
            Some(ResponseCode::AuthenticationFailed),
            "Authentication failed",
        );
        if self.failures >= self.config.max_login_failures {
            self.untagged_status(Status::Bye, None, "Too many failed logins");
            return Ok(Next::Close);
        }
        Ok(Next::Continue)
    }

    fn authenticate(
        &mut self,
        tag: &str,
        mechanism: &str,
        initial: Option<Vec<u8>>,
    ) -> Result<Next, SessionError> {
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            self.tagged(
                tag,
                Status::No,
                Some(ResponseCode::Cannot),
                "Unsupported authentication mechanism",
            );
            return Ok(Next::Continue);
        }
        if self.refuse_cleartext_login(tag) {
            return Ok(Next::Continue);
        }
        let data = match initial {
            Some(d) => d,
            None => {
                self.out.extend_from_slice(b"+ \r\n");
                self.flush()?;
                let line = match self.read_inner_line(tag)? {
                    Ok(l) => l,
                    Err(next) => return Ok(next),
                };
                match parser::parse_authenticate_response(&line) {
                    Ok(parser::AuthResponse::Data(d)) => d,
                    Ok(parser::AuthResponse::Cancel) => {
                        self.tagged(tag, Status::Bad, None, "Authentication cancelled");
                        return Ok(Next::Continue);
                    }
                    Err(e) => {
                        self.tagged(tag, Status::Bad, None, &e.reason);
                        return Ok(Next::Continue);
                    }
                }
            }
        };
        // RFC 4616: [authzid] NUL authcid NUL passwd.
        let mut parts = data.splitn(3, |&b| b == 0);
        let (authz, authc, pass) = match (parts.next(), parts.next(), parts.next()) {
            (Some(z), Some(c), Some(p)) => (z, c, p),
            _ => {
                self.tagged(tag, Status::Bad, None, "Malformed PLAIN response");
                return Ok(Next::Continue);
            }
        };
        if !authz.is_empty() && authz != authc {
            self.tagged(
                tag,
                Status::No,
                Some(ResponseCode::Cannot),
                "Logging in as another user is not supported",
            );
            return Ok(Next::Continue);
        }
        let (authc, pass) = (authc.to_vec(), zeroize::Zeroizing::new(pass.to_vec()));
        self.login(tag, &authc, &pass)
    }
}

/// `XCRY GET-USER-CONFIG` and `XCRY SET-USER-CONFIG`.
fn xcry(ctx: &mut Ctx, out: &mut Vec<u8>, x: XCryCommand) -> Reply {
    let user = &ctx.user;
    match x {
        XCryCommand::GetUserConfig => match user_file::UserFile::load(&user.dir) {
            Ok(f) => {
                let settings = [
                    ("KEY-NAME-PATTERN", f.settings().key_name_pattern.clone()),
                    ("PASSWORD-CHANGED", f.password_changed().to_rfc3339()),
                    (
                        "KDF",
                        format!(
                            "argon2id m={} t={} p={}",
                            f.kdf_params().memory_kib,
                            f.kdf_params().passes,
                            f.kdf_params().lanes
                        ),
                    ),
                ];
                out.extend_from_slice(b"* XCRY USER-CONFIG (");
                for (i, (k, v)) in settings.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    response::write_string(out, k.as_bytes());
                    out.push(b' ');
                    response::write_string(out, v.as_bytes());
                }
                out.extend_from_slice(b")\r\n");
                Reply::ok("GET-USER-CONFIG completed")
            }
            Err(e) => {
                warn!("reading user.toml: {e}");
                Reply::no(
                    Some(ResponseCode::ServerBug),
                    "Cannot read the user configuration",
                )
            }
        },
        XCryCommand::SetUserConfig(pairs) => {
            let mut new_password = None;
            for (k, v) in pairs {
                if k.eq_ignore_ascii_case("PASSWORD") {
                    new_password = Some(zeroize::Zeroizing::new(v));
                } else {
                    return Reply::no(
                        Some(ResponseCode::Cannot),
                        format!("Unknown user setting {k}"),
                    );
                }
            }
            let Some(password) = new_password else {
                return Reply::ok("Nothing to change");
            };
            if password.is_empty() {
                return Reply::no(Some(ResponseCode::Cannot), "The password may not be empty");
            }
            match user_file::change_password(&user.dir, &user.master, &password, &user.kdf) {
                Ok(backup) => {
                    info!(
                        "password changed; previous user.toml kept as {}",
                        backup.display()
                    );
                    out.extend_from_slice(b"* XCRY BACKUP-FILE ");
                    response::write_string(out, backup.to_string_lossy().as_bytes());
                    out.extend_from_slice(b"\r\n");
                    Reply::ok("Password changed")
                }
                Err(e) => {
                    warn!("password change failed: {e}");
                    Reply::no(
                        Some(ResponseCode::ServerBug),
                        "The password could not be changed; the old one still works",
                    )
                }
            }
        }
        XCryCommand::Purge => Reply::bad("XCRY PURGE is handled elsewhere"),
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
        CommandBody::Idle => "IDLE",
        CommandBody::Compress { .. } => "COMPRESS",
        CommandBody::Check => "CHECK",
        CommandBody::Close => "CLOSE",
        CommandBody::Unselect => "UNSELECT",
        CommandBody::Expunge => "EXPUNGE",
        CommandBody::UidExpunge { .. } => "UID EXPUNGE",
        CommandBody::Search(_) => "SEARCH",
        CommandBody::Fetch(_) => "FETCH",
        CommandBody::Store(_) => "STORE",
        CommandBody::Copy { .. } => "COPY",
        CommandBody::Move { .. } => "MOVE",
        CommandBody::XVanquish { .. } => "XVANQUISH",
        CommandBody::Xyzzy => "XYZZY",
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
    }
}
