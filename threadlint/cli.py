"""Command line: ``threadlint check | explain | rules | report``.

Exit codes: 0 no findings, 1 findings (at or above --fail-on), 2 usage or
configuration error, 3 internal error.  Never 0 after something went wrong.
"""
from __future__ import annotations

import argparse
import os
import sys

from threadlint import __version__
from threadlint.errors import InternalError, UsageError, as_usage_error

FORMATS = ("text", "concise", "json", "sarif", "github")


class _Parser(argparse.ArgumentParser):
    def error(self, message):          # one line, exit 2 (argparse prints usage too)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="threadlint", description="Static analysis for libc threading ports.")
    p.add_argument("--version", action="version", version=f"threadlint {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser("check", help="analyse a source tree")
    c.add_argument("root", nargs="?", default=".", metavar="SRC_ROOT")
    c.add_argument("-p", "--build", action="append", default=[], metavar="BUILD",
                   help="build dir, compile_commands.json, or NAME=PATH (repeatable)")
    c.add_argument("--profile", help="port profile name or path (default: from config)")
    c.add_argument("--config", help="configuration file (default: SRC_ROOT/threadlint.toml "
                                    "or [tool.threadlint] in SRC_ROOT/pyproject.toml)")
    c.add_argument("--select", action="append", default=[], help="rule ids, prefixes or names (comma separated)")
    c.add_argument("--ignore", action="append", default=[], help="rules to skip (comma separated)")
    c.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: all cores)")
    c.add_argument("--format", choices=FORMATS, default="text")
    c.add_argument("-o", "--output", help="write the report to FILE instead of stdout")
    c.add_argument("--timeout", type=float, default=None, help="seconds per TU (default 120)")
    c.add_argument("--no-cache", action="store_true", help="do not read or write the fact cache")
    c.add_argument("--cache-dir", help="fact cache directory (default: SRC_ROOT/.threadlint_cache, "
                                       "or $THREADLINT_CACHE_DIR)")
    c.add_argument("--baseline", help="report only findings not recorded in this baseline")
    c.add_argument("--write-baseline", metavar="FILE", help="record the current findings as a baseline")
    c.add_argument("--update-baseline", action="store_true",
                   help="with --baseline: remove stale entries (never adds)")
    c.add_argument("--diff-base", metavar="REF", help="report only findings on lines changed since git REF")
    c.add_argument("--only-files", nargs="*", metavar="FILE",
                   help="report only findings located in these files (pre-commit passes staged files)")
    c.add_argument("--fail-on", choices=("error", "warning", "note"), default=None,
                   help="lowest severity that makes the exit code 1 (default: note)")
    c.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    c.add_argument("--interactive", action="store_true", help="open the interactive report")
    c.add_argument("--github-report-url", default=None, help=argparse.SUPPRESS)
    c.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    e = sub.add_parser("explain", help="show a rule's documentation")
    e.add_argument("rule", metavar="TLnnn")

    sub.add_parser("rules", help="list the rules")

    r = sub.add_parser("report", help="browse a JSON or SARIF report interactively")
    r.add_argument("report", metavar="REPORT")
    r.add_argument("--baseline", help="baseline file the 'add to baseline' action writes")
    r.add_argument("--root", help="source root (default: from the report)")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except UsageError as e:
        _say(f"threadlint: error: {e}")
        return 2
    except KeyboardInterrupt:
        _say("threadlint: interrupted")
        return 130
    except BrokenPipeError:
        return 1
    except InternalError as e:
        _say(f"threadlint: internal error: {e}")
        return 3
    except Exception as e:  # a bug: say so, exit 3, traceback only on request
        if os.environ.get("THREADLINT_DEBUG"):
            raise
        usage = as_usage_error(e)
        if usage is not None:
            _say(f"threadlint: error: {usage}")
            return 2
        _say(f"threadlint: internal error: {type(e).__name__}: {e} "
             f"(set THREADLINT_DEBUG=1 for a traceback)")
        return 3


def _say(message: str) -> None:
    """One line on stderr, whatever the message holds (paths and values from
    untrusted files may contain newlines or control characters)."""
    line = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        raise UsageError("missing command (check, explain, rules, report); see --help")
    if args.command == "explain":
        from threadlint.registry import explain
        print(explain(args.rule), end="")
        return 0
    if args.command == "rules":
        from threadlint.reporters.text import print_rules
        from threadlint.registry import all_rules
        print_rules(list(all_rules().values()))
        return 0
    if args.command == "report":
        from threadlint.report_app import run as run_report
        try:
            return run_report(args.report, baseline_path=args.baseline, root=args.root)
        except (ValueError, OSError) as e:
            raise UsageError(str(e)) from None
    from threadlint.check import run_check
    return run_check(args)
