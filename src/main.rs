//! `crymap-like`: argument parsing only; every subcommand lives in `cli`.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(crymap_like::cli::main());
}
