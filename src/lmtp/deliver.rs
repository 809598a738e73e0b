//! The store side of an LMTP session: for every recipient a short-lived
//! forked child enters the recipient's directory (chroot, then that
//! directory's owner for good, when the server runs as root) and writes one
//! sealed spool entry through [`store::delivery`](crate::store::delivery),
//! exactly as `crymap-like deliver` does. The session process keeps its own
//! privileges for the next recipient and never touches a user's files
//! itself. Never holds a user's key.

use std::io::Read;
use std::path::PathBuf;

use log::{error, warn};

use super::session::{Deliverer, RcptCheck};
use crate::store::delivery::{self, LookupError, Outcome, Recipient};
use crate::store::types::MessageName;
use crate::sys::privilege;
use crate::sys::process::{self, ChildStatus};

/// Delivers into the accounts under `users/`.
pub struct SpoolDeliverer {
    users_dir: PathBuf,
}

impl SpoolDeliverer {
    /// Delivers into the accounts under `users_dir` (as this process sees
    /// it, which may be `/` after `[security] chroot_system`).
    pub fn new(users_dir: PathBuf) -> SpoolDeliverer {
        SpoolDeliverer { users_dir }
    }
}

impl Deliverer for SpoolDeliverer {
    fn check(&mut self, recipient: &Recipient) -> RcptCheck {
        match delivery::user_dir(&self.users_dir, recipient) {
            Ok(_) => RcptCheck::Ok,
            Err(LookupError::NoSuchUser(_)) => RcptCheck::NoSuchUser,
            Err(e) => {
                warn!("looking up {}: {e}", recipient.user_name());
                RcptCheck::Unavailable
            }
        }
    }

    fn deliver(&mut self, recipient: &Recipient, headers: &[u8], body: &[u8]) -> Outcome {
        let dir = match delivery::user_dir(&self.users_dir, recipient) {
            Ok(d) => d,
            Err(LookupError::NoSuchUser(_)) => return Outcome::NoSuchUser,
            Err(e) => {
                warn!("looking up {}: {e}", recipient.user_name());
                return Outcome::NotWritable;
            }
        };
        let name = MessageName::random();
        let status = process::run_in_child(|| {
            let inside = match privilege::become_owner_of(&dir) {
                Ok(d) => d,
                Err(e) => {
                    error!("entering {}: {e}", dir.display());
                    return Outcome::NotWritable.child_code();
                }
            };
            let mut content = headers.chain(body);
            let (outcome, result) = delivery::deliver(
                &inside,
                name,
                recipient,
                &mut content,
                None,
                Vec::new(),
                false,
            );
            if let Err(e) = result {
                warn!("delivery to {}: {e}", recipient.user_name());
            }
            outcome.child_code()
        });
        match status {
            Ok(ChildStatus::Exited(code)) => Outcome::from_child_code(code),
            Ok(ChildStatus::Signaled(sig)) => {
                // The child died: the copy counts only if it became a spool
                // entry (the rename is the commit point).
                if delivery::spooled(&dir, name) {
                    warn!(
                        "delivery child for {} killed by {sig} after its commit",
                        recipient.user_name()
                    );
                    Outcome::Delivered
                } else {
                    warn!(
                        "delivery child for {} killed by {sig}",
                        recipient.user_name()
                    );
                    Outcome::Temporary
                }
            }
            Err(e) if delivery::spooled(&dir, name) => {
                warn!(
                    "delivery child for {}: {e}; its copy is durable",
                    recipient.user_name()
                );
                Outcome::Delivered
            }
            Err(e) => {
                error!("delivery child for {}: {e}", recipient.user_name());
                Outcome::Temporary
            }
        }
    }
}
