//! WASI, linked interface by interface: io, clocks, random and the stdio-style cli interfaces
//! Rust's std imports, backed by an empty context. Linking WASI as a whole would also link the
//! filesystem and sockets.

use wasmtime::component::Linker;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::p2::bindings as wasi;
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

use super::CallState;

pub(super) fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi_io::add_to_linker_async(linker)?;
    wasi::clocks::wall_clock::add_to_linker::<CallState, WasiClocks>(
        linker,
        <CallState as WasiClocksView>::clocks,
    )?;
    wasi::clocks::monotonic_clock::add_to_linker::<CallState, WasiClocks>(
        linker,
        <CallState as WasiClocksView>::clocks,
    )?;
    wasi::random::random::add_to_linker::<CallState, WasiRandom>(
        linker,
        <CallState as WasiRandomView>::random,
    )?;
    wasi::random::insecure::add_to_linker::<CallState, WasiRandom>(
        linker,
        <CallState as WasiRandomView>::random,
    )?;
    wasi::random::insecure_seed::add_to_linker::<CallState, WasiRandom>(
        linker,
        <CallState as WasiRandomView>::random,
    )?;
    // The cli interfaces Rust's std imports, backed by an empty context: no arguments, no
    // environment variables, stdin empty, stdout and stderr discarded.
    wasi::cli::exit::add_to_linker::<CallState, WasiCli>(linker, <CallState as WasiCliView>::cli)?;
    wasi::cli::environment::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::stdin::add_to_linker::<CallState, WasiCli>(linker, <CallState as WasiCliView>::cli)?;
    wasi::cli::stdout::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::stderr::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::terminal_input::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::terminal_output::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::terminal_stdin::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::terminal_stdout::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    wasi::cli::terminal_stderr::add_to_linker::<CallState, WasiCli>(
        linker,
        <CallState as WasiCliView>::cli,
    )?;
    Ok(())
}
