"""YAML with line numbers, and a collector that reports every problem of a file at once.

Producers write scene and show files by hand; a loader that stops at the first mistake makes
them fix one line per run. Here every mapping and list remembers the line of each key and
item (1-based, as editors show them), validators add problems to a :class:`Problems`
collector, and :meth:`Problems.raise_if_any` raises one :class:`FileProblems` listing all
of them as ``file:line: what — what to do``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vhuman.core.errors import ConfigError


class LineDict(dict):
    """A dict that knows the line of each key (``key_line``) and of itself (``line``)."""

    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}

    def key_line(self, key: Any) -> int:
        """Line of ``key`` or, when absent, of the mapping itself."""
        return self.lines.get(key, self.line)


class LineList(list):
    """A list that knows the line of each item (``item_line``) and of itself (``line``)."""

    line: int = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lines: list[int] = []

    def item_line(self, i: int) -> int:
        """The source line of item ``i`` (the list's own line if out of range)."""
        return self.lines[i] if 0 <= i < len(self.lines) else self.line


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings/sequences are LineDict/LineList (never arbitrary objects)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            key = str(key)
        if key in out:
            raise _Duplicate(key, key_node.start_mark.line + 1)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    out = LineList()
    out.line = node.start_mark.line + 1
    for child in node.value:
        out.append(loader.construct_object(child, deep=True))
        out.lines.append(child.start_mark.line + 1)
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class _Duplicate(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a file."""

    file: str
    line: int
    message: str
    fix: str = ""

    def __str__(self) -> str:
        tail = f" — {self.fix}" if self.fix else ""
        return f"{self.file}:{self.line}: {self.message}{tail}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON-ready values."""
        return {"file": self.file, "line": self.line, "message": self.message, "fix": self.fix}


class FileProblems(ConfigError):
    """A file (scene or show) has one or more problems; ``problems`` lists them all."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        head = f"{file}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  {p}" for p in problems))
        self.file = file
        self.problems = list(problems)


class Problems:
    """Collects problems for one file."""

    def __init__(self, file: str | Path) -> None:
        self.file = str(file)
        self.items: list[Problem] = []

    def add(self, line: int, message: str, fix: str = "") -> None:
        """Record a problem at ``line`` with a suggested ``fix``."""
        self.items.append(Problem(self.file, line, message, fix))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        """Raise every recorded problem at once, in line order.

        Raises:
            FileProblems: at least one problem was recorded.
        """
        if self.items:
            raise FileProblems(self.file, sorted(self.items, key=lambda p: p.line))


def load_yaml(text: str, file: str | Path) -> Any:
    """Parse YAML text into LineDict/LineList values; syntax errors name the line."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except _Duplicate as dup:
        raise FileProblems(str(file), [Problem(
            str(file), dup.line, f"key {dup.key!r} appears twice in the same block",
            "keep one of them")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise FileProblems(str(file), [Problem(
            str(file), line, f"not valid YAML: {exc.problem or exc}",
            "check indentation, colons and quotes on this line (quote text containing ': ')")
        ]) from None
    except yaml.YAMLError as exc:
        raise FileProblems(str(file), [Problem(str(file), 0, f"not valid YAML: {exc}")]) from None


def read_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file (UTF-8); a missing file is a ConfigError naming it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found; check the path") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason}); save the file as UTF-8") from None
    return load_yaml(text, p)


def unknown_keys(d: LineDict, allowed: Iterable[str], where: str, probs: Problems) -> None:
    """Report keys of ``d`` not in ``allowed``, suggesting the closest valid spelling."""
    allowed = list(allowed)
    for key in d:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(allowed)}"
            probs.add(d.key_line(key), f"unknown key {key!r} in {where}", hint)


def line_of(value: Any, default: int = 0) -> int:
    """The source line of a parsed YAML value, or ``default`` if it has none."""
    return int(getattr(value, "line", default) or default)


def is_number(v: Any) -> bool:
    """True for int and float values (not bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)
