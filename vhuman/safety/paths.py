"""Files named by network input stay inside configured folders.

A scene or show that arrives over ``/control`` (inline YAML, or a file picked by path) may
name other files: scenes, product images, backgrounds, avatars, word lists. Each such
name goes through :meth:`FileRoots.confine`: it must be relative (no ``/etc/passwd``, no
``~``, no ``C:``, no backslashes), and once resolved — ``..`` folded and every symlink followed — it must lie inside
one of the roots. Error messages name the field and the refusal, never the file's content
nor where outside the roots it pointed.

Files given on the command line are the producer's own and are not confined
(``roots=None`` everywhere means "local input").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class PathRefused(ValueError):
    """A file name in network input points outside the allowed folders."""


@dataclass(frozen=True, slots=True)
class FileRoots:
    """The folders network input may name files in (resolved at creation)."""

    roots: tuple[Path, ...]

    @classmethod
    def of(cls, *folders: str | os.PathLike[str] | None) -> FileRoots:
        """Roots from folders (``None`` entries skipped, duplicates dropped)."""
        seen: dict[Path, None] = {}
        for f in folders:
            if f is not None:
                seen[Path(f).resolve()] = None
        return cls(tuple(seen))

    def confine(self, raw: str, base: Path) -> Path:
        """``raw`` resolved against ``base``, if it stays inside a root.

        Raises:
            PathRefused: absolute, ``~``, NUL, or outside every root once resolved.
        """
        if not isinstance(raw, str) or not raw.strip():
            raise PathRefused("a file name must be non-empty text")
        if "\x00" in raw or "\\" in raw:
            raise PathRefused("a file name must not hold NUL or backslash characters; "
                              "separate folders with /")
        if raw.startswith("~") or os.path.isabs(raw) or Path(raw).is_absolute() \
                or (len(raw) > 1 and raw[1] == ":"):
            raise PathRefused("absolute paths are not accepted over the network; name the "
                              "file relative to the show/scene folder")
        p = (base / raw).resolve()
        if not any(p.is_relative_to(r) for r in self.roots):
            raise PathRefused("the path leaves the allowed folders (after following .. and "
                              "symlinks); put the file inside them")
        return p

    def contains(self, path: Path) -> bool:
        """Whether the resolved ``path`` lies inside a root."""
        p = path.resolve()
        return any(p.is_relative_to(r) for r in self.roots)
