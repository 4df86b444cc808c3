"""Keep only safe HTML in pages built from posts: a pull request's Markdown may carry raw
HTML (`<script>`, `onerror=`) or `javascript:` links, which must not reach the brand's site.

The cleaning itself is nh3 (Python bindings of the Rust crate ammonia): it parses the
fragment as an HTML5 browser would (html5ever), keeps an allow-list of tags, attributes and
URL schemes, and serialises a balanced tree, so unclosed or stray tags cannot leak into the
page. One pass comes before it: the HTML5 parser reads everything after `<style>`,
`<script>`, `<iframe>`, `<textarea>`, `<title>`, `<xmp>`, `<noembed>`, `<noframes>`,
`<noscript>` or `<plaintext>` as raw text until the matching end tag, and puts what follows
`<template>` out of the document; `/>` does not close any of them. Left as is, an author
writing "Use the <style> tag" would lose the rest of the post. So those tags are taken out
first: a closed `<script>`/`<style>` goes with its content (code, never prose), any other
such tag goes alone and its content is read as ordinary HTML (which nh3 then cleans).

nh3 is imported lazily: only feeds and web pages produce HTML.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nh3

__all__ = ["ALLOWED_ATTRS", "ALLOWED_TAGS", "URL_SCHEMES", "clean_html"]

ALLOWED_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    ]
)
ALLOWED_ATTRS: dict[str, frozenset[str]] = {
    "*": frozenset({"lang", "title"}),  # on any tag: harmless, and a post may mix languages
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "td": frozenset({"align", "style"}),
    "th": frozenset({"align", "style"}),
    "abbr": frozenset({"title"}),
    "ol": frozenset({"start"}),
    "code": frozenset({"class"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
"""Schemes kept in `href`/`src`; relative URLs are kept too. No javascript:, data:, vbscript:."""
LINK_REL = "noopener noreferrer"
"""Put on every link: the target page gets no handle on ours, nor our address."""

# Read as raw text (or out of the document) by an HTML5 parser until their end tag.
_SWALLOWING = ["script", "style", "iframe", "noembed", "noframes", "noscript", "plaintext"]
_SWALLOWING += ["template", "textarea", "title", "xmp"]
_DROPPED_WITH_CONTENT = frozenset({"script", "style"})
_SWALLOWING_TAG = re.compile(
    r"<(/?)(" + "|".join(_SWALLOWING) + r")(?![A-Za-z0-9-])(?:[^<>\n]*>)?", re.IGNORECASE
)
# What a cell's alignment looks like (markdown-it writes style="text-align:right").
_ALIGN_STYLE = re.compile(r"\s*text-align\s*:\s*(left|right|center)\s*;?\s*", re.IGNORECASE)
_CODE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")


def clean_html(html: str) -> str:
    """`html` with only allowed tags and attributes, only safe link targets, balanced tags,
    and `rel="noopener noreferrer"` on links. Only the code of a closed `<script>` or
    `<style>` goes: no text of the author's is lost after an unclosed tag."""
    if "<" in html:
        html = _unswallow(html)
    return _cleaner().clean(html)


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    import nh3  # lazy: `cmflow --help` and social channels never produce HTML

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRS.items()},
        attribute_filter=_attribute,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes=set(URL_SCHEMES),
    )


def _attribute(element: str, attribute: str, value: str) -> str | None:
    """Narrow the two attributes whose values matter: a cell's style may only align it, a
    code block's class may only name its language (markdown-it's `language-python`)."""
    if attribute == "style":
        match = _ALIGN_STYLE.fullmatch(value)
        return f"text-align:{match[1].lower()}" if match else None
    if attribute == "class":
        return value if _CODE_CLASS.fullmatch(value) else None
    return value


def _unswallow(html: str) -> str:
    """Take out the tags after which an HTML5 parser stops reading markup (see the module's
    docstring). One scan; the end tag of each element is found by bisection, so the cost
    stays linear-logarithmic whatever the number of unclosed tags."""
    tags = list(_SWALLOWING_TAG.finditer(html))
    if not tags:
        return html
    ends: dict[str, list[int]] = {}  # name -> indexes, in `tags`, of its end tags
    for index, tag in enumerate(tags):
        if tag[1]:
            ends.setdefault(tag[2].lower(), []).append(index)
    out: list[str] = []
    last = 0
    index = 0
    while index < len(tags):
        tag = tags[index]
        out.append(html[last : tag.start()])
        last = tag.end()
        index += 1
        name = tag[2].lower()
        if tag[1] or name not in _DROPPED_WITH_CONTENT or tag[0].endswith("/>"):
            continue  # the tag alone goes; what it held is read as HTML
        closing = ends.get(name, [])
        position = bisect_left(closing, index)
        if position < len(closing):  # a closed script or style: its content goes too
            index = closing[position] + 1
            last = tags[closing[position]].end()
    out.append(html[last:])
    return "".join(out)
