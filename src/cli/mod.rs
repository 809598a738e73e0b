//! Command-line entry points, one file per subcommand. Owns argument parsing
//! and process start-up order; never implements protocol or storage logic.

pub mod deliver;

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    if let Some(code) = deliver::dispatch(std::env::args_os()) {
        return code;
    }
    eprintln!("crymap-like: not yet built");
    64
}
