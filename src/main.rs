//! `crymap-like`: argument parsing only; every subcommand lives in `cli`.
fn main() {
    std::process::exit(crymap_like::cli::main());
}
