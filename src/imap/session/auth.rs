//! The not-authenticated state's commands that need the connection itself:
//! STARTTLS (RFC 3501 §6.2.1), LOGIN and AUTHENTICATE PLAIN (RFC 4616,
//! with SASL-IR), the failed-login delay and limit. Never checks a
//! password itself: the caller's [`Login`] does, and isolates the process.

use std::io::{BufReader, Write};

use log::{info, warn};

use super::{Io, Login, LoginError, Next, Session, SessionError, State};
use crate::imap::commands::selected;
use crate::imap::context::{Ctx, CtxLimits};
use crate::imap::wire::parser;
use crate::imap::wire::response::{Response, ResponseCode, Status};

impl<L: Login> Session<L> {
    pub(super) fn starttls(&mut self, tag: &str) -> Result<Next, SessionError> {
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
        let ok =
            Response::status(Some(tag), Status::Ok, None, "Begin TLS negotiation now").to_bytes();
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

    pub(super) fn login(
        &mut self,
        tag: &str,
        user: &[u8],
        password: &[u8],
    ) -> Result<Next, SessionError> {
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
                            Some(ResponseCode::ServerBug),
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
            Err(LoginError::Throttled) => {
                self.failures += 1;
                warn!(
                    "{}: login for {user:?} not checked: too many attempts for this user \
                     or address lately",
                    self.config.peer
                );
                self.tagged(
                    tag,
                    Status::No,
                    Some(ResponseCode::AuthenticationFailed),
                    "Too many failed logins; try again later",
                );
                if self.failures >= self.config.max_login_failures {
                    self.untagged_status(Status::Bye, None, "Too many failed logins");
                    return Ok(Next::Close);
                }
                Ok(Next::Continue)
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
        // The bare effective address at the end, for log scanners
        // (fail2ban) and, through `client_ip`, for a per-address throttle.
        let from = self
            .client_ip()
            .map_or_else(|| "local".to_owned(), |ip| ip.to_string());
        warn!(
            "{}: failed login #{} for {user:?}: {why}; client {from}",
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

    pub(super) fn authenticate(
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
                Response::Continue("".into()).encode(&mut self.out);
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
