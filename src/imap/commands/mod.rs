//! The command handlers of the authenticated and selected states, one file
//! per command group. Each handler takes the session's [`Ctx`], appends
//! untagged responses to an output buffer and returns the tagged [`Reply`];
//! none of them reads from or writes to the connection.
//!
//! [`Ctx`]: crate::imap::context::Ctx
//! [`Reply`]: crate::imap::context::Reply

pub mod copy;
pub mod enable;
pub mod fetch;
pub mod mailboxes;
pub mod returned;
pub mod search;
pub mod selected;
pub mod sort;
pub mod store;
pub mod xcry;
