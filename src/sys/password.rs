//! Reading a password from the controlling terminal without echo, or from
//! standard input for scripts. Owns the terminal-mode dance (echo is
//! restored on drop, including on error or panic); never logs, stores or
//! checks the password.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;
use nix::sys::termios::{self, LocalFlags, SetArg, Termios};
use zeroize::{Zeroize, Zeroizing};

/// Longest password accepted, in bytes; reading stops there so a runaway
/// input cannot grow the buffer (which would leave unzeroised copies).
pub(crate) const MAX_PASSWORD_LEN: usize = 1024;

/// Failure to read a password.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PasswordError {
    /// The controlling terminal could not be opened.
    #[error("cannot open the terminal /dev/tty: {0}")]
    NoTerminal(io::Error),
    /// Reading or changing the terminal's mode failed.
    #[error("cannot {op} terminal attributes: {source}")]
    Termios {
        /// `get` or `set`.
        op: &'static str,
        /// The underlying errno.
        source: Errno,
    },
    /// Reading the line or writing the prompt failed.
    #[error("password input failed: {0}")]
    Io(#[from] io::Error),
    /// The line was empty.
    #[error("the password is empty")]
    Empty,
    /// The line exceeded [`MAX_PASSWORD_LEN`].
    #[error("the password is longer than {MAX_PASSWORD_LEN} bytes")]
    TooLong,
    /// The line is not UTF-8.
    #[error("the password is not valid UTF-8")]
    NotUtf8,
}

/// Turns terminal echo off for its lifetime and restores the saved mode
/// when dropped, whatever way the scope is left.
#[derive(Debug)]
pub(crate) struct EchoOff<'fd> {
    fd: BorrowedFd<'fd>,
    saved: Termios,
}

impl<'fd> EchoOff<'fd> {
    /// Disables echo on the terminal `fd` (keeping canonical line editing).
    pub(crate) fn new(fd: BorrowedFd<'fd>) -> Result<EchoOff<'fd>, PasswordError> {
        let saved = termios::tcgetattr(fd)
            .map_err(|source| PasswordError::Termios { op: "get", source })?;
        let mut quiet = saved.clone();
        quiet
            .local_flags
            .remove(LocalFlags::ECHO | LocalFlags::ECHOE | LocalFlags::ECHOK | LocalFlags::ECHONL);
        quiet.local_flags.insert(LocalFlags::ICANON);
        termios::tcsetattr(fd, SetArg::TCSAFLUSH, &quiet)
            .map_err(|source| PasswordError::Termios { op: "set", source })?;
        Ok(EchoOff { fd, saved })
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        // Nothing sensible can be done if restoring fails; the terminal
        // stays silent, which is safe, and `stty sane` fixes it.
        let _ = termios::tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// Reads one line as a password: stops at `\n` or end of input, strips a
/// trailing `\r\n`/`\n`, rejects empty, over-long and non-UTF-8 input.
///
/// Reads byte by byte so nothing after the line is consumed and no
/// intermediate buffer holds a copy of the secret.
pub(crate) fn read_password_line<R: Read>(
    mut input: R,
) -> Result<Zeroizing<String>, PasswordError> {
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_PASSWORD_LEN + 1));
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {
                let [b] = byte;
                if b == b'\n' {
                    break;
                }
                if buf.len() >= MAX_PASSWORD_LEN {
                    byte.zeroize();
                    return Err(PasswordError::TooLong);
                }
                buf.push(b);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(PasswordError::Io(e)),
        }
    }
    byte.zeroize();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    if buf.is_empty() {
        return Err(PasswordError::Empty);
    }
    let bytes = std::mem::take(&mut *buf);
    match String::from_utf8(bytes) {
        Ok(s) => Ok(Zeroizing::new(s)),
        Err(e) => {
            e.into_bytes().zeroize();
            Err(PasswordError::NotUtf8)
        }
    }
}

/// Prompts on the terminal `tty` and reads a password with echo off.
pub(crate) fn read_password_from_tty(
    tty: &File,
    prompt: &str,
) -> Result<Zeroizing<String>, PasswordError> {
    let _quiet = EchoOff::new(tty.as_fd())?;
    let mut out = tty;
    out.write_all(prompt.as_bytes())?;
    let password = read_password_line(tty);
    // The user's Enter was not echoed; end the prompt line ourselves.
    out.write_all(b"\n")?;
    password
}

/// Prompts on the controlling terminal (`/dev/tty`) and reads a password
/// without echo, even when stdin/stdout are redirected.
pub(crate) fn read_password_from_terminal(
    prompt: &str,
) -> Result<Zeroizing<String>, PasswordError> {
    let tty = File::options()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(PasswordError::NoTerminal)?;
    read_password_from_tty(&tty, prompt)
}

/// Reads a password as one line of standard input (for scripts), leaving
/// any following input unread.
pub(crate) fn read_password_from_stdin() -> Result<Zeroizing<String>, PasswordError> {
    let stdin = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    read_password_line(stdin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::poll::wait_any;
    use nix::pty::openpty;
    use std::time::Duration;

    #[test]
    fn line_rules() {
        assert_eq!(
            read_password_line(&b"secret\r\nnext"[..])
                .expect("ok")
                .as_str(),
            "secret"
        );
        assert_eq!(
            read_password_line(&b"secret\n"[..]).expect("ok").as_str(),
            "secret"
        );
        assert_eq!(
            read_password_line(&b"no newline"[..]).expect("ok").as_str(),
            "no newline"
        );
        assert_eq!(
            read_password_line(&b" spaced \n"[..]).expect("ok").as_str(),
            " spaced "
        );
        assert!(matches!(
            read_password_line(&b"\n"[..]),
            Err(PasswordError::Empty)
        ));
        assert!(matches!(
            read_password_line(&b"\r\n"[..]),
            Err(PasswordError::Empty)
        ));
        assert!(matches!(
            read_password_line(&b""[..]),
            Err(PasswordError::Empty)
        ));
        assert!(matches!(
            read_password_line(&b"\xff\xfe\n"[..]),
            Err(PasswordError::NotUtf8)
        ));
        let long = vec![b'a'; MAX_PASSWORD_LEN + 1];
        assert!(matches!(
            read_password_line(&long[..]),
            Err(PasswordError::TooLong)
        ));
        let exact = vec![b'a'; MAX_PASSWORD_LEN];
        assert_eq!(
            read_password_line(&exact[..]).expect("ok").len(),
            MAX_PASSWORD_LEN
        );
    }

    #[test]
    fn stops_after_the_line() {
        let mut input = &b"first\nsecond\n"[..];
        assert_eq!(
            read_password_line(&mut input).expect("ok").as_str(),
            "first"
        );
        assert_eq!(input, b"second\n");
    }

    fn read_available(master: &File) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while wait_any(&[master.as_fd()], Some(Duration::from_millis(200))).expect("poll")
            == vec![true]
        {
            match (&*master).read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(buf.get(..n).unwrap_or_default()),
            }
        }
        got
    }

    #[test]
    fn terminal_read_does_not_echo_and_restores_mode() {
        let pty = openpty(None, None).expect("openpty");
        let master = File::from(pty.master);
        let slave = File::from(pty.slave);
        let echo_on = |f: &File| {
            termios::tcgetattr(f.as_fd())
                .expect("tcgetattr")
                .local_flags
                .contains(LocalFlags::ECHO)
        };
        assert!(echo_on(&slave));
        std::thread::scope(|s| {
            let reader = s.spawn(|| read_password_from_tty(&slave, "Password: "));
            // The prompt is written after echo is off, so seeing it means
            // typing now is safe.
            let mut prompt = Vec::new();
            while !prompt.ends_with(b"Password: ") {
                let more = read_available(&master);
                assert!(!more.is_empty(), "no prompt; got {prompt:?}");
                prompt.extend(more);
            }
            (&master).write_all(b"hunter2\n").expect("type");
            let password = reader.join().expect("thread").expect("password");
            assert_eq!(password.as_str(), "hunter2");
        });
        let echoed = read_available(&master);
        assert!(
            !echoed.windows(7).any(|w| w == b"hunter2"),
            "password echoed: {echoed:?}"
        );
        assert!(echo_on(&slave), "echo not restored");
    }

    #[test]
    fn echo_is_restored_when_the_scope_unwinds() {
        let pty = openpty(None, None).expect("openpty");
        let slave = File::from(pty.slave);
        let result = std::panic::catch_unwind(|| {
            let _g = EchoOff::new(slave.as_fd()).expect("echo off");
            assert!(!termios::tcgetattr(slave.as_fd())
                .expect("get")
                .local_flags
                .contains(LocalFlags::ECHO));
            panic!("simulated failure while reading");
        });
        assert!(result.is_err());
        assert!(termios::tcgetattr(slave.as_fd())
            .expect("get")
            .local_flags
            .contains(LocalFlags::ECHO));
    }

    #[test]
    fn not_a_terminal_is_a_typed_error() {
        let (r, _w) = nix::unistd::pipe().expect("pipe");
        assert!(matches!(
            EchoOff::new(r.as_fd()),
            Err(PasswordError::Termios { op: "get", .. })
        ));
    }
}
