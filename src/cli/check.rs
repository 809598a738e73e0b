//! `crymap-like check NAME [--repair]`: runs the store's integrity check
//! (`store::check`) with the user's password and reports every finding in
//! plain words, with a progress bar on a terminal. Owns the report and the
//! exit code; the verification itself is the store's, and nothing here
//! deletes anything.

use super::password::{self, PasswordArgs};
use super::progress::Progress;
use super::{exit, facts, Global};
use crate::store::check::{self, Severity};

/// `check`'s options.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 intact (or everything found was repaired), \
                        65 damage or missing data remains (each finding on stdout), \
                        67 no such user, 77 wrong password, 75 the account cannot be opened."
)]
pub struct CheckArgs {
    /// The account.
    pub name: String,
    /// Recompute what can be recomputed (summaries, snapshots); never
    /// deletes a message.
    #[arg(long)]
    pub repair: bool,
    /// The account's password (prompted for when neither is given).
    #[command(flatten)]
    pub password: PasswordArgs,
}

pub(super) fn run(global: &Global, args: CheckArgs) -> i32 {
    match run_check(global, &args) {
        Ok(code) => code,
        Err((code, msg)) => {
            eprintln!("crymap-like check: {msg}");
            code
        }
    }
}

fn run_check(global: &Global, args: &CheckArgs) -> Result<i32, (i32, String)> {
    let dir = password::user_dir(&global.root, &args.name)?;
    password::become_owner(&dir)?;
    let unlocked = password::unlock(&dir, &args.password)?;
    let mut progress = Progress::new(facts::visible(&dir).bytes, "check");
    let report = check::check(&dir, &unlocked, args.repair, &mut |bytes| {
        progress.message(bytes)
    })
    .map_err(|e| (exit::TEMPFAIL, format!("cannot open the account: {e}")))?;
    progress.finish();
    for f in &report.findings {
        println!("{f}");
    }
    let remaining = report.unrepaired();
    let repaired = report.findings.iter().filter(|f| f.repaired).count();
    let notes = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Note)
        .count();
    println!(
        "checked {} key pair(s), {} mailbox(es), {} message(s) ({}), {} spool entr(ies): \
         {remaining} problem(s), {repaired} repaired, {notes} note(s)",
        report.keys,
        report.mailboxes,
        report.messages,
        facts::human_size(report.bytes),
        report.spool
    );
    Ok(if remaining > 0 {
        exit::DATAERR
    } else {
        exit::OK
    })
}
