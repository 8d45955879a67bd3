// The one list of environment variables cleared for a nested wasm32 cargo build: they are
// meant for the host build (flags, wrappers, target and target dir) and would break or
// redirect the guest's. Included by build.rs and by the integration tests (`#[path]`).

/// Variables meant for the host build that must not reach a nested wasm32 build.
pub const HOST_ONLY_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_MAKEFLAGS",
    "CARGO_PROFILE_RELEASE_DEBUG",
];
