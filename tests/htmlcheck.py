"""Checks on the HTML the site receives, shared by the sanitiser's tests and the fuzz test."""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = frozenset({"br", "hr", "img"})
DANGEROUS_TAG = re.compile(
    r"<(?:script|style|iframe|object|embed|svg|math|meta|base|form|input|link|textarea"
    r"|noscript|template|video|source|details|body)\b|<!--|<!\[CDATA",
    re.IGNORECASE,
)
# How a browser finds a URL's scheme (WHATWG URL standard): leading C0 controls and spaces
# dropped, tabs and newlines removed anywhere, then letters, digits, "+", "-", "." up to ":".
_URL_NOISE = re.compile(r"^[\x00-\x20]+|[\t\n\r]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
SAFE_SCHEMES = ("http:", "https:", "mailto:")
EXTERNAL = re.compile(r"(?:https?:)?//|mailto:", re.IGNORECASE)


class _Reader(HTMLParser):
    """Reads HTML back as a browser's tokenizer would, noting what the checks need."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        if tag not in VOID:
            self.errors.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _read(html: str) -> _Reader:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader


def balanced(html: str) -> bool:
    """Every tag closed, in order; void elements only as void elements."""
    reader = _read(html)
    return not reader.errors and not reader.stack


def text_of(html: str) -> str:
    return "".join(_read(html).text)


def unsafe(html: str) -> list[str]:
    """What in `html` could run: a dangerous tag, an on* handler, a URL that is not
    http(s)/mailto/relative, a style that does more than align."""
    found = [m[0] for m in DANGEROUS_TAG.finditer(html)]
    for tag, attrs in _read(html).tags:
        for name, value in attrs.items():
            if name.startswith("on") or name in ("srcset", "formaction", "action", "xlink:href"):
                found.append(f"{tag} {name}")
            scheme = _SCHEME.match(_URL_NOISE.sub("", value))
            if name in ("href", "src") and scheme and scheme[0].lower() not in SAFE_SCHEMES:
                found.append(f"{tag} {name}={value}")
            if name == "style" and not re.fullmatch(r"text-align:(left|right|center)", value):
                found.append(f"{tag} style={value}")
    return found


def unprotected_links(html: str) -> list[str]:
    """Links to another site that lack rel="noopener noreferrer"."""
    return [
        f"<a href={attrs.get('href')!r} rel={attrs.get('rel')!r}>"
        for tag, attrs in _read(html).tags
        if tag == "a"
        and EXTERNAL.match(attrs.get("href", ""))
        and attrs.get("rel") != "noopener noreferrer"
    ]
