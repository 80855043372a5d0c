"""Templates in lines and replies: ``{product.price}``, ``{show.title}``, ``{user}``.

Values are filled from the product on screen, the show and the chat user (see
:data:`VARIABLES`); ``{{`` and ``}}`` write literal braces. docs/show-format.md documents
the same variables for producers.
"""

from __future__ import annotations

import re
from typing import Any

from vhuman.scenes.show import Product

#: Template variables and what they are (docs/show-format.md lists the same).
VARIABLES: dict[str, str] = {
    "product.id": "the product's id",
    "product.name": "the product's name",
    "product.price": "the price, e.g. 89 or 89.9",
    "product.original_price": "the price before the discount",
    "product.discount": "original_price minus price",
    "product.stock": "units left",
    "product.point": "the first selling point",
    "product.points": "all selling points, joined with ，",
    "show.title": "the show's title",
    "user": "the chat user's name (chat replies only)",
}
_VAR = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


class MissingValue(KeyError):
    """A template needs a value that is not there now (no product on screen, no user)."""


def template_fields(template: str) -> list[str]:
    """The variable names a template uses, in order."""
    return [m.group(1).strip() for m in _VAR.finditer(template) if m.group(1) is not None]


def render(template: str, *, product: Product | None = None, show_title: str = "",
           user: str | None = None) -> str:
    """Fill a template; raises :class:`MissingValue` when a needed value is absent."""

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "{{":
            return "{"
        if tok == "}}":
            return "}"
        name = m.group(1).strip()
        if name == "show.title":
            return show_title
        if name == "user":
            if user is None:
                raise MissingValue(name)
            return user
        if name.startswith("product."):
            if product is None:
                raise MissingValue(name)
            attr = name[len("product."):]
            value: Any
            if attr == "point":
                value = product.points[0] if product.points else None
            elif attr == "points":
                value = "，".join(product.points) if product.points else None
            elif attr in ("id", "name", "price", "original_price", "stock", "discount"):
                value = getattr(product, attr)
            else:
                raise MissingValue(name)
            if value is None:
                raise MissingValue(name)
            return str(value)
        raise MissingValue(name)

    return _VAR.sub(sub, template)


def has_stray_brace(template: str) -> bool:
    """Whether a ``{`` or ``}`` is left that is neither a variable nor ``{{``/``}}``."""
    stray = _VAR.sub("", template)
    return "{" in stray or "}" in stray
