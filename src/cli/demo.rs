//! `crymap-like demo`: the embedded default. Makes a throwaway system root
//! (`./demo-root`), a self-signed certificate for `localhost`, an account
//! `demo` with a generated password, and then runs `listen` on 127.0.0.1.
//!
//! Started as root, the demo account is given to `nobody` so its sessions
//! still chroot and drop root exactly as in production.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::user::{add_user, PasswordSource};
use super::{exit, listen, Global};
use crate::config::System;
use crate::sys;

/// The file that marks a directory as a demo root, so that `demo` only ever
/// deletes what it made itself.
const MARKER: &str = ".crymap-like-demo";

/// `demo`'s options.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The throwaway system root (deleted and remade on every start, and
    /// only if `demo` made it).
    #[arg(long, value_name = "DIR", default_value = "demo-root")]
    dir: PathBuf,
    /// The IMAPS port on 127.0.0.1.
    #[arg(long, value_name = "PORT", default_value_t = 1993)]
    imaps_port: u16,
    /// The STARTTLS port on 127.0.0.1.
    #[arg(long, value_name = "PORT", default_value_t = 1143)]
    imap_port: u16,
}

pub(super) fn run(args: DemoArgs) -> i32 {
    let DemoArgs {
        dir,
        imaps_port,
        imap_port,
    } = args;
    super::init_logging(&Global {
        root: dir.clone(),
        log_stderr: true,
    });
    let root = match std::path::absolute(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("crymap-like demo: {}: {e}", dir.display());
            return exit::CANTCREAT;
        }
    };
    let password = match prepare(&root, imaps_port, imap_port) {
        Ok(p) => p,
        Err((code, msg)) => {
            eprintln!("crymap-like demo: {msg}");
            return code;
        }
    };
    let system = match System::load(&root) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("crymap-like demo: {e}");
            return exit::CONFIG;
        }
    };
    let listeners = match listen::bind(&system) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("crymap-like demo: {e} (is another demo running?)");
            return exit::OSERR;
        }
    };
    let cert = root.join("tls/cert.pem");
    // The settings go out in one write, and a failed write is only
    // logged: whoever reads them (a person's terminal, `demo | head`, a
    // test) may close stdout as soon as it has what it wants, and the demo
    // must go on serving. With `println!` a closed stdout made the demo
    // panic (EPIPE; SIGPIPE is ignored) while connections were already
    // queued on its bound listeners, which the kernel then reset.
    let isolation = if sys::privilege::is_root() {
        "sessions chroot into the user directory and run as nobody".to_owned()
    } else {
        format!(
            "none (not started as root): sessions run as uid {} without chroot",
            nix::unistd::geteuid()
        )
    };
    let banner = format!(
        "crymap-like demo is running; stop it with Ctrl-C.\n\
         isolation: {isolation}\n\
         system root: {root}\n\
         imaps: 127.0.0.1:{imaps_port} (implicit TLS)\n\
         imap: 127.0.0.1:{imap_port} (STARTTLS)\n\
         certificate: {cert} (self-signed for localhost)\n\
         user: demo\n\
         password: {password}\n\
         try: openssl s_client -quiet -connect 127.0.0.1:{imaps_port} -CAfile {cert}\n",
        root = root.display(),
        cert = cert.display(),
    );
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush())
    {
        log::warn!("cannot print the demo settings: {e}");
    }
    drop(stdout);
    let global = Global {
        root: root.clone(),
        log_stderr: true,
    };
    listen::serve_forever(&global, &system, &listeners)
}

/// Makes the demo root afresh and returns the demo user's password.
pub(crate) fn prepare(
    root: &Path,
    imaps_port: u16,
    imap_port: u16,
) -> Result<String, (i32, String)> {
    if root.exists() {
        if !root.join(MARKER).exists() {
            return Err((
                exit::CANTCREAT,
                format!(
                    "{} exists and was not made by demo; not touching it",
                    root.display()
                ),
            ));
        }
        std::fs::remove_dir_all(root).map_err(|e| {
            (
                exit::CANTCREAT,
                format!("removing old {}: {e}", root.display()),
            )
        })?;
    }
    let io = |e: std::io::Error| (exit::CANTCREAT, format!("{}: {e}", root.display()));
    std::fs::create_dir_all(root.join("tls")).map_err(io)?;
    std::fs::write(
        root.join(MARKER),
        b"made by crymap-like demo; deleted by the next demo\n",
    )
    .map_err(io)?;
    let config = format!(
        "# Made by `crymap-like demo`. See crymap-like.toml.example for every option.\n\
         [tls]\ncertificate = \"tls/cert.pem\"\nprivate_key = \"tls/key.pem\"\n\n\
         [listen]\nimaps = [\"127.0.0.1:{imaps_port}\"]\nimap = [\"127.0.0.1:{imap_port}\"]\n"
    );
    std::fs::write(root.join(crate::config::CONFIG_FILE), config).map_err(io)?;
    let cert = super::tls::self_signed("localhost")
        .map_err(|e| (exit::SOFTWARE, format!("certificate: {e}")))?;
    std::fs::write(root.join("tls/cert.pem"), &cert.certificate_pem).map_err(io)?;
    sys::durable::replace(
        &root.join("tls"),
        &root.join("tls/key.pem"),
        &cert.private_key_pem,
    )
    .map_err(|e| (exit::CANTCREAT, format!("tls/key.pem: {e}")))?;
    let system = System::load(root).map_err(|e| (exit::CONFIG, e.to_string()))?;
    let owner = if sys::privilege::is_root() {
        Some("nobody")
    } else {
        None
    };
    let password = add_user(&system, "demo", None, owner, PasswordSource::Generate)?;
    password.ok_or((exit::SOFTWARE, "no password was generated".to_owned()))
}
