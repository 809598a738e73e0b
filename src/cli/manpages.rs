//! `crymap-like manpages DIR` and `crymap-like completions SHELL`: the man
//! pages (clap_mangen, one page per command and subcommand, named like
//! `crymap-like-user-add.1`) and shell completion scripts (clap_complete),
//! both generated from the same clap definitions the parser uses, so they
//! cannot drift from it. Never touches anything but DIR or stdout.

use std::path::Path;

use clap::CommandFactory;

use super::{exit, Cli};

/// Writes `crymap-like.1` and one page per subcommand into `dir`.
pub(super) fn write_all(dir: &Path) -> i32 {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("crymap-like manpages: {}: {e}", dir.display());
        return exit::CANTCREAT;
    }
    let cmd = Cli::command();
    match write_tree(dir, cmd, "crymap-like") {
        Ok(n) => {
            println!("wrote {n} man pages into {}", dir.display());
            exit::OK
        }
        Err(e) => {
            eprintln!("crymap-like manpages: {e}");
            exit::CANTCREAT
        }
    }
}

fn write_tree(dir: &Path, cmd: clap::Command, name: &str) -> std::io::Result<usize> {
    let cmd = cmd.name(name.to_owned());
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut n = 1;
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        n += write_tree(dir, sub.clone(), &format!("{name}-{}", sub.get_name()))?;
    }
    Ok(n)
}

/// Prints the completion script for `shell` on stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> i32 {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "crymap-like", &mut std::io::stdout());
    exit::OK
}
