"""``vhuman check-show``: validate show files before going on air."""

from __future__ import annotations

import argparse
import sys

from vhuman.core.errors import ConfigError
from vhuman.safety.moderation import Moderator
from vhuman.scenes.show_loader import load_show
from vhuman.scenes.yamlsrc import FileProblems


def add_subcommand(subparsers) -> None:
    """Add ``check-show FILE... [--lists extra.txt ...]``."""
    p = subparsers.add_parser(
        "check-show", help="validate show scripts (every problem with file:line)",
        description="Load each show file as the engine would and list every problem with "
                    "file:line and what to do, including banned wording (moderation).")
    p.add_argument("files", nargs="+", help="show YAML files")
    p.add_argument("--lists", nargs="*", default=[],
                   help="extra moderation word-list files (one term a line)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        mod = Moderator.default(args.lists)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for f in args.files:
        try:
            show = load_show(f, moderator=mod)
        except FileProblems as exc:
            print(exc, file=sys.stderr)
            status = 1
            continue
        except ConfigError as exc:
            print(f"{f}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{f}: OK — {show.title!r}, {len(show.products)} products, "
              f"{len(show.segments)} segments, {show.count_lines()} lines, "
              f"{len(show.chat.rules)} chat rules, {len(show.chat.faq)} FAQ entries")
    return status
