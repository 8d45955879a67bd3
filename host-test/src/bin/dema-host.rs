//! `dema-host`: loads a plugin component the way Dema's plugin host does and lets a person use
//! it from a terminal, against the embedded Ingrid simulator by default.

use std::process::ExitCode;

use clap::Parser;
use host_test::cli::{self, Cli};

fn main() -> ExitCode {
    cli::install_panic_hook();
    cli::main(Cli::parse())
}
