from threadlint.registry import Rule


class ParseError(Rule):
    """## What it does
    Reports a translation unit that libclang could not parse cleanly with the
    configuration's own compile arguments (error diagnostics), or that crashed
    or timed out in its worker process.

    ## Why is this bad
    A TU with errors is analysed with a partial AST, and a TU parsed with the
    wrong macro state silently analyses the wrong `#if` branch.  Every other
    rule is blind in that file, so the gap is reported instead of skipped.

    ## Example
    ```c
    #include "missing.h"   /* 'missing.h' file not found */
    ```

    ## How to fix
    Make the compile database match the build (include paths, defines,
    target), or fix the source.  If the compiler is newer than the bundled
    libclang, add the macros it predefines to the profile's
    `[[frontend.predefine]]`.

    ## Configuration
    `timeout` (seconds per TU, configuration file or `--timeout`) bounds the
    time one file may take before it is reported here.
    """

    id = "TL002"
    name = "parse-error"
    summary = "Translation unit failed to parse (analysis incomplete there)"
    severity = "error"
    precision = "high"
    scope = "tu"

    def check_tu(self, tu, program):
        if tu.crashed:
            yield self.finding(f"libclang failed on this file: {tu.crashed}; it was not analysed",
                               tu.path, 1, 1)
            return
        if not tu.diagnostics:
            return
        first = tu.diagnostics[0]
        shown = "; ".join(
            f"{d['path'] or tu.path}:{d['l']}: {d['message']}" for d in tu.diagnostics[:3])
        more = len(tu.diagnostics) - 3
        message = f"{len(tu.diagnostics)} error(s) while parsing: {shown}" + (
            f" (+{more} more)" if more > 0 else "")
        in_main = first["path"] == tu.path
        yield self.finding(message, tu.path, first["l"] if in_main else 1,
                           first["c"] if in_main else 1)
