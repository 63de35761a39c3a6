#!/usr/bin/env python3
"""Write the example tree's compile databases, as a build system's configure step would.

compile_commands.json needs absolute paths, so they are generated here rather
than committed.  Configurations (like wasi-libc's):

  build-coop/     wasm32-wasip3 with cooperative threads (the ABI macro is on)
  build-threads/  wasm32-wasip1-threads (real threads, _REENTRANT)
  build-single/   wasm32-wasip1 (no threads)

Every .c/.s/.S under src/ is built in every configuration unless its first
line says ``only: <config>[, <config>]``.
"""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = {
    "coop": ["--target=wasm32-wasip3", "-pthread"],
    "threads": ["--target=wasm32-wasip1-threads", "-pthread", "-matomics"],
    "single": ["--target=wasm32-wasip1"],
}


def sources():
    for dirpath, dirnames, files in os.walk(os.path.join(HERE, "src")):
        dirnames.sort()
        for f in sorted(files):
            if f.endswith((".c", ".s", ".S")):
                yield os.path.join(dirpath, f)


def main():
    for name, flags in CONFIGS.items():
        entries = []
        for path in sources():
            with open(path, encoding="utf-8") as fh:
                first = fh.readline()
            m = re.search(r"only:\s*([\w, -]+)", first)
            if m and name not in [c.strip() for c in m.group(1).split(",")]:
                continue
            rel = os.path.relpath(path, HERE)
            entries.append({"directory": HERE, "file": path,
                            "arguments": ["clang", *flags, "-I", os.path.join(HERE, "include"),
                                          "-O2", "-Wall", "-c", rel, "-o", rel + ".o"]})
        out = os.path.join(HERE, f"build-{name}")
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "compile_commands.json"), "w", encoding="utf-8") as fh:
            json.dump(entries, fh, indent=2)
            fh.write("\n")
        print(os.path.join(out, "compile_commands.json"))


if __name__ == "__main__":
    main()
