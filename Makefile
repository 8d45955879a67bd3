# Two commands matter: `make demo` (run it) and `make test` (check everything).
# Every target first makes sure the wasm32-wasip2 target and wasm-opt are installed (rustup
# does not auto-install on these machines; both steps are fast when they are present).

CARGO ?= cargo
HOST := target/release/dema-host

.PHONY: tools wasm-target plugin build demo test fmt lint unit hostile-rss dist reproducible fuzz soak bench

wasm-target: tools
	@rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2

## wasm-opt (binaryen, from npm; pinned: the component's bytes depend on its version), used by
## host-test/build.rs to shrink the plugin. Installed under target/tools, once.
BINARYEN := 132.0.0
tools: target/tools/node_modules/.bin/wasm-opt
target/tools/node_modules/.bin/wasm-opt:
	npm install --prefix target/tools --no-save --no-audit --no-fund --silent binaryen@$(BINARYEN)

## The plugin component alone (also built and embedded by the host's build script).
plugin: wasm-target
	$(CARGO) build --locked --release -p ingrid-plugin --target wasm32-wasip2
	@ls -l target/wasm32-wasip2/release/ingrid_plugin.wasm

## The host binary, with the plugin embedded.
build: wasm-target
	$(CARGO) build --locked --release -p host-test

## A short scripted session against the embedded Ingrid simulator.
demo: build
	$(HOST) demo

fmt: wasm-target
	$(CARGO) fmt --all -- --check

lint: wasm-target
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p ingrid-plugin --target wasm32-wasip2 -- -D warnings

unit: wasm-target
	$(CARGO) test --locked --workspace
	@# The plugin's tests again with its dependencies' features as the component has them (a
	@# workspace build unifies in the host's serde_json features).
	$(CARGO) test --locked -p ingrid-plugin --lib

## Format check, lints with -D warnings, and every test (end-to-end ones included).
test: fmt lint unit

## Peak host memory and time under each hostile fixture (after `make test` built them).
hostile-rss: build
	python3 scripts/hostile_rss.py

## The marketplace package: dist/ingrid-returns-<version>.wasm and .json, signed by the key
## file DEMA_PUBLISHER_KEY_FILE names (without one: a development build, throwaway key).
dist: wasm-target
	$(CARGO) run --locked -q -p host-test --bin dema-host -- package --out-dir dist

## `make dist` from two clean clones in different directories gives the same sha256.
reproducible: wasm-target
	scripts/reproducible.sh

## The property tests with many more cases (make test runs proptest's default 256).
fuzz: wasm-target
	PROPTEST_CASES=20000 $(CARGO) test --locked -p ingrid-plugin fuzz
	PROPTEST_CASES=20000 $(CARGO) test --locked -p host-test --lib fuzz

## 10,000 mixed calls in one host process (make test runs 1,500).
soak: wasm-target
	DEMA_SOAK_CALLS=10000 DEMA_SOAK_SECS=600 $(CARGO) test --locked -p host-test --test all soak:: -- --nocapture

## The sandbox's cost against native, in one run (BENCHMARKS.md): release build, warm-up,
## medians, ratios. Not part of `make test`. DEMA_BENCH_QUICK=1 runs fewer rounds.
bench: wasm-target
	$(CARGO) bench --locked -p host-test --bench host
