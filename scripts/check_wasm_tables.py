#!/usr/bin/env python3
"""Guard against a miscompiled release .wasm.

wasm-bindgen exports its externref table as `__wbindgen_externrefs`. Some wasm-opt builds
(Debian's binaryen 108) rewrite that export to point at the funcref table; the module still
validates and the server-rendered page still looks fine, but hydration dies in the browser with
`WebAssembly.Table.set(): Argument 1 is invalid for table`. This script reads the module's import,
table and export sections and fails unless the export names an externref table.

Usage: check_wasm_tables.py FILE.wasm   (exit 0 ok, 1 broken, 2 unreadable)
"""
import sys

FUNCREF, EXTERNREF = 0x70, 0x6F
EXPORT_NAME = "__wbindgen_externrefs"


class Reader:
    def __init__(self, data, pos=0, end=None):
        self.data, self.pos, self.end = data, pos, len(data) if end is None else end

    def byte(self):
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def name(self):
        n = self.uleb()
        s = self.data[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s

    def limits(self):
        flags = self.byte()
        self.uleb()
        if flags & 0x01:
            self.uleb()

    def reftype(self):
        t = self.byte()
        if t in (0x63, 0x64):  # (ref null? heaptype) from the GC proposal
            t = self.byte()
        return t


def tables_and_exports(data):
    if data[:4] != b"\0asm":
        raise ValueError("not a wasm module")
    r = Reader(data, 8)
    tables, exports = [], {}
    while r.pos < len(data):
        section, size = r.byte(), r.uleb()
        body = Reader(data, r.pos, r.pos + size)
        if section == 2:  # imports: imported tables come first in the table index space
            for _ in range(body.uleb()):
                body.name(), body.name()
                kind = body.byte()
                if kind == 0:
                    body.uleb()
                elif kind == 1:
                    tables.append(body.reftype())
                    body.limits()
                elif kind == 2:
                    body.limits()
                elif kind == 3:
                    body.byte(), body.byte()
                elif kind == 4:
                    body.byte(), body.uleb()
        elif section == 4:
            for _ in range(body.uleb()):
                tables.append(body.reftype())
                body.limits()
        elif section == 7:
            for _ in range(body.uleb()):
                name, kind, index = body.name(), body.byte(), body.uleb()
                exports[name] = (kind, index)
        r.pos += size
    return tables, exports


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        with open(argv[1], "rb") as f:
            tables, exports = tables_and_exports(f.read())
    except (OSError, ValueError, IndexError) as e:
        print(f"check_wasm_tables: cannot read {argv[1]}: {e}", file=sys.stderr)
        return 2
    kind, index = exports.get(EXPORT_NAME, (None, None))
    if kind != 1 or index is None or index >= len(tables):
        print(f"check_wasm_tables: {argv[1]}: no table export {EXPORT_NAME}", file=sys.stderr)
        return 1
    if tables[index] != EXTERNREF:
        print(f"check_wasm_tables: {argv[1]}: {EXPORT_NAME} points at table {index} of type "
              f"0x{tables[index]:02x}, not externref: this wasm-opt broke the module", file=sys.stderr)
        return 1
    print(f"check_wasm_tables: {argv[1]}: ok ({EXPORT_NAME} -> table {index}, externref)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
