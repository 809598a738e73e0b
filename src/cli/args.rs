//! A small cursor over the command line. Owns the typed errors for bad
//! usage; knows nothing about what the options mean.

use std::ffi::OsString;

/// What is wrong with the command line.
#[derive(Debug, thiserror::Error)]
pub enum ArgError {
    /// A command or subcommand word is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A command word is not known.
    #[error("unknown command `{0}`")]
    UnknownCommand(String),
    /// An option is not known to this command.
    #[error("unknown option `{0}`")]
    UnknownOption(String),
    /// An option needs a value and none followed.
    #[error("option `{0}` needs a value")]
    MissingValue(String),
    /// An option's value is not acceptable.
    #[error("bad value `{value}` for `{option}`: expected {expected}")]
    BadValue {
        /// The option.
        option: String,
        /// What was given.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// A positional argument is not expected here.
    #[error("unexpected argument `{0}`")]
    Unexpected(String),
    /// An argument is not valid UTF-8.
    #[error("argument is not valid UTF-8: {0:?}")]
    NotUtf8(OsString),
    /// Two options exclude each other.
    #[error("{0}")]
    Conflict(&'static str),
}

/// The remaining command-line words.
#[derive(Debug, Clone)]
pub struct Args {
    words: Vec<Result<String, OsString>>,
    pos: usize,
}

impl Args {
    /// The process's arguments, without the program name.
    pub fn from_env() -> Args {
        Args::new(std::env::args_os().skip(1))
    }

    /// Arguments from any list (used by tests and by `listen`).
    pub fn new<I, S>(words: I) -> Args
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Args {
            words: words
                .into_iter()
                .map(|w| {
                    let w: OsString = w.into();
                    w.into_string()
                })
                .collect(),
            pos: 0,
        }
    }

    /// The next word, if any and if valid UTF-8, without consuming it.
    pub fn peek(&self) -> Option<&str> {
        match self.words.get(self.pos) {
            Some(Ok(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Consumes the next word.
    pub fn next_word(&mut self) -> Option<Result<String, ArgError>> {
        let w = self.words.get(self.pos)?.clone();
        self.pos += 1;
        Some(w.map_err(ArgError::NotUtf8))
    }

    /// Consumes every remaining word, as given.
    pub fn rest_os(&mut self) -> Vec<OsString> {
        let rest = self.words[self.pos..]
            .iter()
            .map(|w| match w {
                Ok(s) => OsString::from(s),
                Err(o) => o.clone(),
            })
            .collect();
        self.pos = self.words.len();
        rest
    }

    /// Consumes a required command word.
    pub fn command(&mut self, what: &'static str) -> Result<String, ArgError> {
        match self.next_word() {
            Some(w) => w,
            None => Err(ArgError::Missing(what)),
        }
    }

    /// Consumes the value of `option`, which was just consumed.
    pub fn value(&mut self, option: &str) -> Result<String, ArgError> {
        match self.next_word() {
            Some(w) => w,
            None => Err(ArgError::MissingValue(option.to_owned())),
        }
    }

    /// Parses the value of `option` as a number.
    pub fn number<T: std::str::FromStr>(
        &mut self,
        option: &str,
        expected: &'static str,
    ) -> Result<T, ArgError> {
        let v = self.value(option)?;
        v.parse().map_err(|_| ArgError::BadValue {
            option: option.to_owned(),
            value: v,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_walks_and_reports() {
        let mut a = Args::new(["--port", "x", "serve"]);
        assert_eq!(a.peek(), Some("--port"));
        a.next_word();
        let e = a.number::<u16>("--port", "a port").unwrap_err();
        assert!(e.to_string().contains("a port"));
        assert_eq!(a.command("cmd").unwrap(), "serve");
        assert!(matches!(a.command("cmd"), Err(ArgError::Missing("cmd"))));
    }
}
