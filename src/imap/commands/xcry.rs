//! The XCRY extension: user configuration, password change, and PURGE.
//! Never unlocks keys itself: password changes go through the session's
//! `store::credentials::UnlockedAccount`.

use std::time::Duration;

use log::{info, warn};

use crate::imap::context::{Ctx, Reply};
use crate::imap::wire::command::XCryCommand;
use crate::imap::wire::response::{Response, ResponseCode};
use crate::imap::wire::user_setting::UserSetting;
use crate::store::delivery::DETAIL_SETTING;
use crate::store::mailbox::Mailbox;
use crate::store::user_file;

/// How long a deleted mailbox's directory must have been untouched before
/// PURGE removes it (a mailbox being created has its directory a moment
/// before its account record).
const DELETED_MAILBOX_GRACE: Duration = Duration::from_secs(600);

/// `XCRY PURGE`: removes the files of every expunged message in every
/// mailbox now instead of after the grace period, other garbage, and the
/// directories of deleted mailboxes.
fn purge(ctx: &mut Ctx) -> Reply {
    if let Err(e) = ctx.account.refresh() {
        return Reply::server_bug("reading the account", &e);
    }
    let boxes: Vec<_> = ctx
        .account
        .state()
        .mailboxes()
        .map(|i| (i.id, i.uid_validity))
        .collect();
    let mut removed = 0usize;
    for (id, validity) in &boxes {
        let result = Mailbox::open(ctx.keys.clone(), ctx.dir(), id, *validity)
            .and_then(|mut mb| mb.collect_garbage(Duration::ZERO));
        match result {
            Ok(n) => removed += n,
            Err(e) => return Reply::server_bug("purging", &e),
        }
    }
    // Directories are removed as "deleted" only on the word of an account
    // log that verifies.
    if let Err(e) = ctx.account.refuse_if_read_only() {
        return Reply::no(Some(ResponseCode::Cannot), e.to_string());
    }
    let live: Vec<_> = boxes.iter().map(|(id, _)| *id).collect();
    let gone = match crate::store::mailbox::remove_deleted_mailboxes(
        ctx.dir(),
        &live,
        DELETED_MAILBOX_GRACE,
    ) {
        Ok(n) => n,
        Err(e) => return Reply::server_bug("removing deleted mailboxes", &e),
    };
    Reply::ok(format!(
        "XCRY PURGE completed: {removed} file(s) and {gone} deleted mailbox(es) removed"
    ))
}

/// `XCRY GET-USER-CONFIG`, `XCRY SET-USER-CONFIG` and `XCRY PURGE`.
pub(crate) fn xcry(ctx: &mut Ctx, out: &mut Vec<u8>, x: XCryCommand) -> Reply {
    let user = &ctx.user;
    match x {
        XCryCommand::GetUserConfig => match user_file::UserFile::load(&user.dir) {
            Ok(f) => {
                let detail = ctx.account.state().setting(DETAIL_SETTING).unwrap_or("no");
                let settings = [
                    UserSetting::KeyNamePattern(f.settings().key_name_pattern.clone()),
                    UserSetting::PasswordChanged(f.password_changed().to_rfc3339()),
                    UserSetting::Kdf(f.password_cost().to_string()),
                    UserSetting::DetailDelivery(detail.to_owned()),
                ];
                Response::XCryUserConfig(
                    settings
                        .iter()
                        .map(|s| (s.name().into(), s.value().into()))
                        .collect(),
                )
                .encode(out);
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
            let mut detail = None;
            for setting in pairs {
                match setting {
                    Ok(UserSetting::Password(p)) => new_password = Some(p),
                    Ok(UserSetting::DetailDelivery(v)) => {
                        let yes_no = ["yes", "no"]
                            .into_iter()
                            .find(|w| v.eq_ignore_ascii_case(w));
                        let Some(value) = yes_no else {
                            return Reply::no(
                                Some(ResponseCode::Cannot),
                                "DETAIL-DELIVERY is yes or no",
                            );
                        };
                        detail = Some(value);
                    }
                    // Only the password can be set; the reported settings
                    // are answered like unknown ones, as they always were.
                    Ok(reported) => {
                        return Reply::no(
                            Some(ResponseCode::Cannot),
                            format!("Unknown user setting {}", reported.name()),
                        )
                    }
                    Err(unknown) => {
                        return Reply::no(Some(ResponseCode::Cannot), unknown.to_string())
                    }
                }
            }
            if let Some(value) = detail {
                if let Err(e) = ctx.account.set_setting(DETAIL_SETTING, value) {
                    warn!("setting DETAIL-DELIVERY: {e}");
                    return Reply::no(
                        Some(ResponseCode::ServerBug),
                        "The setting could not be saved",
                    );
                }
            }
            let Some(password) = new_password else {
                return Reply::ok(if detail.is_some() {
                    "Settings saved"
                } else {
                    "Nothing to change"
                });
            };
            if password.is_empty() {
                return Reply::no(Some(ResponseCode::Cannot), "The password may not be empty");
            }
            match user.account.change_password(&user.dir, &password) {
                Ok(backup) => {
                    let until = backup
                        .removed_after
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                    info!(
                        "password changed; previous user.toml kept as {} until {until}",
                        backup.path.display()
                    );
                    Response::XCryBackupFile(backup.path.to_string_lossy()).encode(out);
                    Reply::ok(format!(
                        "Password changed; the old password keeps opening the backup file until {until}, when it is removed"
                    ))
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
        XCryCommand::Purge => purge(ctx),
    }
}
