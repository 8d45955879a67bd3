#!/usr/bin/env python3
"""Peak host memory (max RSS) of `dema-host` under each hostile fixture tool, against its
idle figure (`tools` on the same plugin). Run after `make test` has built the fixtures:

    make hostile-rss

Prints one line per case and exits non-zero if any case exceeds idle + 256 MiB or its
deadline + 10% (plus process start-up)."""

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = os.environ.get("DEMA_HOST") or os.path.join(ROOT, "target", "release", "dema-host")
FIXTURES = os.path.join(ROOT, "target", "fixtures-build", "wasm32-wasip2", "release")
LIMIT_KIB = 256 * 1024
DEADLINE_S = 10.0

CASES = {
    "rogue.wasm": ["spin", "sleep", "memory_bomb", "huge_output", "hammer", "smuggle",
                   "terminal_attack", "path_escape", "echo", "write_then_spin"],
    "hostile_schemas.wasm": None,  # every tool it lists
    "deceiver.wasm": None,
}


def peak_kib(env, args):
    # os.wait4 gives the child's own peak RSS.
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execve(HOST, [HOST] + args, env)
    _, _, usage = os.wait4(pid, 0)
    return usage.ru_maxrss, time.monotonic() - started


def main():
    home = tempfile.mkdtemp(prefix="dema-rss-")
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, "c"),
               XDG_STATE_HOME=os.path.join(home, "s"), DEMA_CACHE_DIR=os.path.join(home, "cache"))
    failed = False
    for wasm, tools in CASES.items():
        path = os.path.join(FIXTURES, wasm)
        if not os.path.exists(path):
            print(f"{wasm}: not built (run make test first)")
            failed = True
            continue
        base = ["--plugin", path, "--accept-plugin"]
        peak_kib(env, base + ["tools"])  # fills the compile cache
        idle, _ = peak_kib(env, base + ["tools"])
        if tools is None:
            listing = subprocess.run([HOST] + base + ["tools"], env=env, capture_output=True,
                                     text=True).stdout
            tools = [line.split(" ", 1)[0] for line in listing.splitlines()
                     if line and not line.startswith(" ")]
        print(f"{wasm}: idle {idle // 1024} MiB")
        for tool in tools:
            peak, seconds = peak_kib(env, base + ["call", tool, "--yes"])
            over = peak - idle
            bad = over > LIMIT_KIB or seconds > 2 * DEADLINE_S * 1.1 + 1.0
            failed |= bad
            print(f"  {tool:<28} peak {peak // 1024:>5} MiB (+{over // 1024} MiB)"
                  f"  {seconds:5.2f} s{'  OVER' if bad else ''}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
