#!/usr/bin/env python3
"""Completes and checks a release site after `cargo leptos build --release`.

1. Copies the build's hash list (`hash.txt`, written by cargo-leptos next to the binary) into the
   site root, so the site directory is complete on its own (the server looks there first).
2. Checks the hashed .wasm's tables (scripts/check_wasm_tables.py: Debian's wasm-opt 108 breaks
   hydration).
3. Prints what a first visit downloads (the main WASM, its JS glue, the chunk loader and the
   stylesheet, as brotli; the lazily loaded pages' chunks come later, listed apart) and fails when
   the compressed main WASM or that total grows past the budget in scripts/site-budget.json.

Usage: finish_site.py SITE_ROOT BINARY_DIR
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
site, bin_dir = Path(sys.argv[1]), Path(sys.argv[2])
source = bin_dir / "hash.txt"
if not source.is_file():
    sys.exit(f"finish_site: {source} missing: is `hash-files` on in Cargo.toml?")
shutil.copyfile(source, site / "hash.txt")
hashes = dict(l.split(":", 1) for l in (site / "hash.txt").read_text().splitlines() if ":" in l)
files = {ext: site / "pkg" / f"charon.{hashes[ext].strip()}.{ext}" for ext in ("wasm", "js", "css")}
# `--split`: the loader the main JS imports at start (first visit), and the page chunks (later).
pkg = site / "pkg"
loaders = sorted(pkg.glob("__wasm_split*.js"))
if len(loaders) != 1:
    sys.exit(f"finish_site: expected one __wasm_split loader in {pkg}, found {[l.name for l in loaders]} (is --split on?)")
files["loader"] = loaders[0]
chunks = sorted(pkg.glob("chunk_*.wasm"))
if not chunks:
    sys.exit(f"finish_site: no page chunks in {pkg} (is --split on?)")
for ext, f in files.items():
    for variant in (f, Path(f"{f}.br"), Path(f"{f}.gz")):
        if not variant.is_file():
            sys.exit(f"finish_site: {variant} missing (precompress must be on)")

if subprocess.run([sys.executable, str(here / "check_wasm_tables.py"), str(files["wasm"])]).returncode != 0:
    sys.exit(1)

budget = json.loads((here / "site-budget.json").read_text())
sizes = {ext: (f.stat().st_size, Path(f"{f}.br").stat().st_size, Path(f"{f}.gz").stat().st_size) for ext, f in files.items()}
print(f"{'file':<40} {'raw':>10} {'brotli':>10} {'gzip':>10}")
for ext, (raw, br, gz) in sizes.items():
    print(f"{files[ext].name:<40} {raw:>10} {br:>10} {gz:>10}")
total_br = sum(br for _, br, _ in sizes.values())
print(f"{'first visit (brotli)':<40} {'':>10} {total_br:>10}")
chunk_br = 0
for c in chunks:
    br = Path(f"{c}.br")
    if not br.is_file():
        sys.exit(f"finish_site: {br} missing (precompress must be on)")
    chunk_br += br.stat().st_size
print(f"{f'{len(chunks)} page chunks, loaded when shown':<40} {sum(c.stat().st_size for c in chunks):>10} {chunk_br:>10}")
problems = []
if sizes["wasm"][1] > budget["wasm_brotli_bytes"]:
    problems.append(f"the WASM is {sizes['wasm'][1]} bytes as brotli, over the budget of {budget['wasm_brotli_bytes']}")
if total_br > budget["first_visit_brotli_bytes"]:
    problems.append(f"a first visit is {total_br} bytes as brotli, over the budget of {budget['first_visit_brotli_bytes']}")
for p in problems:
    print(f"finish_site: {p} (scripts/site-budget.json)", file=sys.stderr)
sys.exit(1 if problems else 0)
