"""YAML with line numbers, and a collector that reports every problem of a file at once.

Producers write scene and show files by hand; a loader that stops at the first mistake makes
them fix one line per run. Here every mapping and list remembers the line of each key and
item (1-based, as editors show them), validators add problems to a :class:`Problems`
collector, and :meth:`Problems.raise_if_any` raises one :class:`FileProblems` listing all
of them as ``file:line: what — what to do``.

Parsing is bounded (:class:`YamlLimits`): size, nesting depth, node count with aliases
expanded, and the number of aliases. Network input (:data:`NETWORK_LIMITS`) may use no
aliases at all: a 1.5 kB show of nested aliases once froze the whole process for 16 s.
Problems caused by a limit carry ``code="yaml_refused"``; callers on the network run the
parse in a worker thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import difflib
import os
import stat
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


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """Bounds on one YAML document.

    Attributes:
        max_bytes: UTF-8 size of the text.
        max_depth: nesting of mappings and lists.
        max_nodes: nodes, counting each alias as a copy of what it names (merge keys too).
        max_aliases: ``*alias`` uses (0: aliases refused).
    """

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_nodes: int = 200_000
    max_aliases: int = 100


#: Files the producer runs from the command line.
FILE_LIMITS = YamlLimits()
#: YAML that arrives over the network (``/control`` inline scenes and shows).
NETWORK_LIMITS = YamlLimits(max_bytes=256 * 1024, max_depth=32, max_nodes=20_000,
                            max_aliases=0)


class _Limit(Exception):
    def __init__(self, line: int, message: str, fix: str) -> None:
        super().__init__(message)
        self.line, self.message, self.fix = line, message, fix


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings/sequences are LineDict/LineList, bounded by limits.

    Never arbitrary objects; size, depth and aliases are bounded by a :class:`YamlLimits`.
    """

    limits: YamlLimits = FILE_LIMITS

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        lim = self.limits
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > lim.max_aliases:
                line = self.peek_event().start_mark.line + 1
                if lim.max_aliases == 0:
                    raise _Limit(line, "YAML aliases (*name) are not accepted here",
                                 "write the values out; network input may not use anchors")
                raise _Limit(line, f"more than {lim.max_aliases} YAML aliases",
                             "write the values out instead of repeating *aliases")
        else:
            self._nodes += 1
            if self._nodes > lim.max_nodes:
                raise _Limit(self.peek_event().start_mark.line + 1,
                             f"more than {lim.max_nodes} YAML nodes", "split the file")
        self._depth += 1
        try:
            if self._depth > lim.max_depth:
                raise _Limit(self.peek_event().start_mark.line + 1,
                             f"nested more than {lim.max_depth} levels deep",
                             "flatten the structure")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, self.limits.max_nodes)
        if size > self.limits.max_nodes:
            raise _Limit(node.start_mark.line + 1, f"the YAML expands to more than "
                         f"{self.limits.max_nodes} nodes (aliases and merge keys copied)",
                         "write the values out instead of repeating *aliases")
        return self.construct_document(node)


def _expanded_size(root: yaml.Node, cap: int) -> int:
    """Nodes under ``root`` with every alias counted as a copy (stops past ``cap``)."""
    memo: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        got = memo.get(id(node))
        if got is not None:
            return got
        if depth > 1000:
            return cap + 1
        total = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k, depth + 1) + size(v, depth + 1)
                if total > cap:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                total += size(v, depth + 1)
                if total > cap:
                    break
        memo[id(node)] = total
        return total

    return size(root, 0)


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
    code: str = ""   # "forbidden_path", "yaml_refused", or "" for an ordinary mistake

    def __str__(self) -> str:
        tail = f" — {self.fix}" if self.fix else ""
        return f"{self.file}:{self.line}: {self.message}{tail}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON-ready values (``code`` only when it has one)."""
        out = {"file": self.file, "line": self.line, "message": self.message, "fix": self.fix}
        if self.code:
            out["code"] = self.code
        return out


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

    def add(self, line: int, message: str, fix: str = "", code: str = "") -> None:
        """Record a problem at ``line`` with a suggested ``fix`` (and a machine ``code``)."""
        self.items.append(Problem(self.file, line, message, fix, code))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        """Raise every recorded problem at once, in line order.

        Raises:
            FileProblems: at least one problem was recorded.
        """
        if self.items:
            raise FileProblems(self.file, sorted(self.items, key=lambda p: p.line))


def load_yaml(text: str, file: str | Path, limits: YamlLimits = FILE_LIMITS) -> Any:
    """Parse YAML text into LineDict/LineList values; syntax errors name the line.

    Raises:
        FileProblems: a syntax error, a duplicate key, or a limit passed (``code``
            ``yaml_refused``).
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise FileProblems(str(file), [Problem(
            str(file), 0, f"the YAML is {size} bytes; the limit here is {limits.max_bytes}",
            "split it or shorten it", "yaml_refused")])
    loader_cls = _LineLoader if limits is FILE_LIMITS else type(
        "_BoundedLoader", (_LineLoader,), {"limits": limits})
    loader = None
    try:
        loader = loader_cls(text)  # the reader checks the characters here already
        return loader.get_single_data()
    except _Limit as lim:
        raise FileProblems(str(file), [Problem(str(file), lim.line, lim.message, lim.fix,
                                               "yaml_refused")]) from None
    except _Duplicate as dup:
        raise FileProblems(str(file), [Problem(
            str(file), dup.line, f"key {str(dup.key)[:60]!r} appears twice in the same block",
            "keep one of them")]) from None
    except RecursionError:
        raise FileProblems(str(file), [Problem(
            str(file), 0, "the YAML is nested too deeply", "flatten the structure",
            "yaml_refused")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise FileProblems(str(file), [Problem(
            str(file), line, f"not valid YAML: {exc.problem or 'syntax error'}",
            "check indentation, colons and quotes on this line (quote text containing ': ')")
        ]) from None
    except yaml.YAMLError as exc:
        raise FileProblems(str(file), [Problem(str(file), 0,
                                               f"not valid YAML: {type(exc).__name__}")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml_file(path: str | Path, limits: YamlLimits = FILE_LIMITS) -> Any:
    """Read and parse a YAML file (UTF-8, a regular file within ``limits.max_bytes``).

    Raises:
        ConfigError: the file is missing, not a regular file, too large or not UTF-8.
        FileProblems: the YAML is invalid or passes a limit.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError(f"{p}: not a regular file; name a .yaml file")
            data = fh.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder; name a .yaml file") from None
    except PermissionError:
        raise ConfigError(f"{p}: not readable (permission denied)") from None
    if len(data) > limits.max_bytes:
        raise ConfigError(f"{p}: larger than {limits.max_bytes} bytes; split it")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason}); save the file as UTF-8") from None
    return load_yaml(text, p, limits)


def unknown_keys(d: LineDict, allowed: Iterable[str], where: str, probs: Problems) -> None:
    """Report keys of ``d`` not in ``allowed``, suggesting the closest valid spelling."""
    allowed = list(allowed)
    for key in d:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(allowed)}"
            probs.add(d.key_line(key), f"unknown key {str(key)[:40]!r} in {where}", hint)


def line_of(value: Any, default: int = 0) -> int:
    """The source line of a parsed YAML value, or ``default`` if it has none."""
    return int(getattr(value, "line", default) or default)


def is_number(v: Any) -> bool:
    """True for int and float values (not bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)
