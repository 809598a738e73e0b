//! The command handlers of the authenticated and selected states, one file
//! per command group. Each handler takes the session's [`Ctx`], appends
//! untagged responses to an output buffer and returns the tagged [`Reply`];
//! none of them reads from or writes to the connection.
//!
//! [`Ctx`]: crate::imap::context::Ctx
//! [`Reply`]: crate::imap::context::Reply

pub(crate) mod copy;
pub(crate) mod enable;
pub(crate) mod fetch;
pub(crate) mod mailboxes;
pub(crate) mod notify;
pub(crate) mod replace;
pub(crate) mod returned;
pub(crate) mod search;
pub(crate) mod selected;
pub(crate) mod sort;
pub(crate) mod sort_cache;
pub(crate) mod store;
pub(crate) mod uidonly;
pub(crate) mod updates;
pub(crate) mod xcry;
