"""Markdown helpers: thread splitting, plain text for social networks, HTML for feeds.

`to_plain` runs on every post for every channel during validation, so it is a small
line-based converter with precompiled regexes rather than a Markdown -> HTML -> text
round-trip. It works in two passes:

1. a block pass, line by line: code blocks (fenced or indented), headings, lists,
   blockquotes, rules, tables, reference definitions and HTML comments;
2. an inline pass over the text the block pass produced: code spans, escapes, images,
   links, autolinks, raw HTML, bare URLs, emphasis and entities.

What must come out verbatim (code, URLs, escaped characters) is swapped for a
placeholder while the other rules run, and put back at the end; so an underscore or an
asterisk inside a URL is never taken for emphasis. Placeholders are ``\\x00<n>\\x01``
(numbered), or, for the frequent inline links and bare URLs, one sentinel character
per kind (``\\x03``, ``\\x04``, ``\\x05``) matched to a list in text order. ``\\x02``
marks where markup was removed, so that a line holding nothing else (an image, a
comment) disappears instead of leaving a blank line behind. Control characters
``\\x00``-``\\x05`` are deleted from the input first.

Speed notes: every inline pattern starts with a literal character, which lets the
regex engine jump from candidate to candidate instead of trying every position, and
each pass only runs when the text holds its trigger character. Every pass is linear in
the body's length, whatever the body (a pull request can hold a megabyte of ``\\*`` or
of unmatched ``*``): placeholders go back in one pass, code spans find their closing
run by bisection, and emphasis follows CommonMark's delimiter algorithm, not regexes
that rescan a line from each opener. `tests/test_markup_linear.py` renders 1 MB bodies;
`bench/markup_bench.py` prints time against size.

The dialect is markdown-it's (CommonMark with strikethrough and tables), the one `to_html`
renders: `tests/test_markdown_dialect.py` rebuilds the plain text from markdown-it's
tokens for a corpus and compares.

`to_html` renders the same dialect as HTML for feeds and web pages, with markdown-it-py
(CommonMark, strikethrough, tables) and nh3; both are imported only when HTML is asked for.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore
    from markdown_it.token import Token

__all__ = ["THREAD_BREAK", "body_line_of", "split_thread", "to_html", "to_plain"]

THREAD_BREAK: re.Pattern[str] = re.compile(
    r"^[ \t]*<!--[ \t]*thread[ \t]*-->[ \t]*$", re.IGNORECASE | re.MULTILINE
)
"""A line holding only ``<!-- thread -->``: where a post is cut into a thread."""

# --- block level: matched on a line without its indentation -----------------------------

_FENCE_OPEN = re.compile(r"(`{3,})(?!.*`)|(~{3,})")
_FENCE_CLOSE = re.compile(r"[ \t]*(`{3,}|~{3,})[ \t]*$")
_QUOTE = re.compile(r"(?:> ?[ \t]{0,3})+")
_ATX = re.compile(r"(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_SETEXT = re.compile(r"(?:=+|-{2,})[ \t]*$")
_BULLET = re.compile(r"[-*+][ \t]+(\S.*)")
_ORDERED = re.compile(r"(\d{1,9}[.)])[ \t]+(\S.*)")
_TASK = re.compile(r"\[([ xX])\][ \t]+(\S.*)")
_REF_DEF = re.compile(
    r"\[([^\]\n]+)\]:[ \t]*<?([^\s<>\x02]+)>?"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*$"
)
_TABLE_SEP = re.compile(r"[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)+(?:[ \t]*:?-+:?[ \t]*)?$")
_PIPE = re.compile(r"(?<!\\)\|")
_COMMENT_OR_CODE = re.compile(r"`(?<![`\\]`)(`*)(?!`).+?(?<!`)`\1(?!`)|<!--(.*?-->|.*)")
_BLOCK_START = "#>-*+_=`~[0123456789"  # first characters worth a closer look

# --- inline level -------------------------------------------------------------------------

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_BRACKETED = r"[^\[\]\n]*(?:\[[^\[\]\n]*\][^\[\]\n]*)*"
_IMAGE = re.compile(
    r"!\[(" + _BRACKETED + r")\](\([^()\n]*(?:\([^()\n]*\)[^()\n]*)*\)|\[[^\]\n]*\])?"
)
_LINK = re.compile(
    r"\[(" + _BRACKETED + r")\]\([ \t]*"
    r"(?:<([^<>\n\x02-\x05]*)>|([^\s()\x02-\x05]*(?:\([^\s()\x02-\x05]*\)[^\s()\x02-\x05]*)*))"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*\)"
)
_REF_LINK = re.compile(r"\[(" + _BRACKETED + r")\](?:\[([^\]\n]*)\])?")
_AUTOLINK = re.compile(
    r"<([a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\s<>\x00-\x05]*"
    r"|[^\s<>@\x00-\x05]+@[^\s<>@\x00-\x05]+\.[a-zA-Z]{2,})>"
)
_BREAK_TAG = re.compile(r"<[bB][rR][ \t]*/?>[ \t]*")
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>\x00-\x05]*)?/?>")
# A bare URL does not end with punctuation, nor with an emphasis delimiter: in
# "(voir https://x.fr/a_b)." or "**https://x.fr**", what follows the URL is the sentence's.
_URL_TAIL = r"[^\s<>\x00-\x05]*(?:\([^\s<>()\x00-\x05]*\)|[^\s<>()\x00-\x05.,;:!?'\"»*_~])"
_HTTP_URL = re.compile(r"(https?://" + _URL_TAIL + ")")
_WWW_URL = re.compile(r"(www\.(?<![\w./]www\.)" + _URL_TAIL + ")")
_TILDE_CODE = ord("~")
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_BACKTICKS = re.compile(r"`+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x01")
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://|mailto:")

# Each comment ends at its first "-->": no backtracking, whatever the block holds.
_COMMENTS = re.compile(r"(?:\s*<!--(?:(?!-->).)*-->)+\s*", re.DOTALL)
_LINK_MARK = "\x03"
_URL_MARK = "\x04"
_WWW_MARK = "\x05"
_CONTROL_CHARS = re.compile(r"[\x00-\x05]")


def body_line_of(body: str, needle_index: int) -> int:
    """Return the 0-based line number, in `body`, of the character at `needle_index`.

    `needle_index` may equal ``len(body)`` (the end of the text); anything outside
    ``0..len(body)`` is a caller bug and raises `ValueError`.
    """
    if not 0 <= needle_index <= len(body):
        raise ValueError(f"index {needle_index} is outside a body of {len(body)} characters")
    return body.count("\n", 0, needle_index)


def split_thread(body: str) -> list[str]:
    """Split a Markdown body at `THREAD_BREAK` lines into stripped, non-empty parts.

    A break written inside a fenced code block is content, not a break.
    """
    if "<!--" not in body:  # no break: what `_split_at_breaks` makes of it, in one step
        whole = (body.replace("\r\n", "\n") if "\r" in body else body).strip()
        return [whole] if whole else []
    return _split_at_breaks(body)


def _split_at_breaks(body: str) -> list[str]:
    """`split_thread`, line by line."""
    parts: list[str] = []
    current: list[str] = []
    fence = ""
    for line in body.replace("\r\n", "\n").split("\n"):
        if fence:
            close = _FENCE_CLOSE.match(line)
            if close and close[1][0] == fence[0] and len(close[1]) >= len(fence):
                fence = ""
        elif THREAD_BREAK.match(line):
            parts.append("\n".join(current).strip())
            current = []
            continue
        else:
            stripped = line.lstrip(" ")
            if len(line) - len(stripped) <= 3 and stripped[:1] in ("`", "~"):
                opening = _FENCE_OPEN.match(stripped)
                if opening:
                    fence = opening[1] or opening[2]
        current.append(line)
    parts.append("\n".join(current).strip())
    return [part for part in parts if part]


def to_html(markdown: str) -> str:
    """Render Markdown as safe HTML for feeds and web pages.

    The same dialect as `to_plain` reads: CommonMark with GitHub's strikethrough and tables,
    bare ``http(s)://`` and ``www.`` addresses made links (with `to_plain`'s own patterns),
    task boxes shown as "☐"/"☑". Rendered by markdown-it-py, then cleaned by
    `cmflow.sanitize.clean_html` (nh3): raw HTML is allowed in, only safe HTML comes out.
    """
    from cmflow.sanitize import clean_html

    if not markdown.isascii():
        # A lone surrogate (a str can hold one; UTF-8 cannot) would stop nh3: show U+FFFD.
        markdown = _SURROGATE.sub("\ufffd", markdown)
    return clean_html(_markdown_it().render(markdown)).strip()


@lru_cache(maxsize=1)
def _markdown_it() -> MarkdownIt:
    from markdown_it import MarkdownIt  # lazy: only feeds and web pages need it

    # "commonmark" also caps nesting (maxNesting 20): deep quotes or lists stay cheap.
    md = MarkdownIt("commonmark", {"html": True}).enable(["strikethrough", "table"])
    md.core.ruler.after("text_join", "cmflow_plain_dialect", _plain_dialect)
    return md


def _plain_dialect(state: StateCore) -> None:
    """A markdown-it core rule: what `to_plain` does beyond CommonMark, done the same way."""
    from markdown_it.token import Token  # the class itself, for new tokens

    if any(t.type == "html_block" and _COMMENTS.fullmatch(t.content) for t in state.tokens):
        # Comments (thread breaks, notes to reviewers) are for the source only.
        state.tokens = [
            t for t in state.tokens if t.type != "html_block" or not _COMMENTS.fullmatch(t.content)
        ]
    tokens = state.tokens
    for position, block in enumerate(tokens):
        if block.type != "inline" or not block.children:
            continue
        children = block.children
        if any(c.type == "html_inline" and c.content.startswith("<!--") for c in children):
            children = block.children = _without_comments(children)
            if not children:
                continue
        first = children[0]
        if (
            position >= 2
            and tokens[position - 2].type == "list_item_open"
            and first.type == "text"
            and first.content[:1] == "["
        ):
            task = _TASK.match(first.content)
            if task:
                first.content = ("☐ " if task[1] == " " else "☑ ") + task[2]
        if not any(
            c.type == "text" and ("http" in c.content or "www." in c.content) for c in children
        ):
            continue
        linked: list[Token] = []
        depth = 0  # inside a link already: no link in a link
        for child in children:
            if child.type == "link_open":
                depth += 1
            elif child.type == "link_close":
                depth -= 1
            if (
                child.type != "text"
                or depth
                or ("http" not in child.content and "www." not in child.content)
            ):
                linked.append(child)
                continue
            for piece, url_kind in _url_pieces(child.content):
                if not url_kind:
                    if piece:
                        linked.append(Token("text", "", 0, content=piece))
                    continue
                href = state.md.normalizeLink(url_kind + piece if url_kind != "url" else piece)
                if not state.md.validateLink(href):
                    linked.append(Token("text", "", 0, content=piece))
                    continue
                link_open = Token("link_open", "a", 1, attrs={"href": href})
                link_open.markup = link_open.info = "linkify"
                linked.append(link_open)
                linked.append(Token("text", "", 0, content=state.md.normalizeLinkText(piece)))
                link_close = Token("link_close", "a", -1)
                link_close.markup = link_close.info = "linkify"
                linked.append(link_close)
        block.children = linked


def _without_comments(children: list[Token]) -> list[Token]:
    """Inline tokens without their comments, nor the spaces written before each."""
    kept: list[Token] = []
    for child in children:
        if child.type == "html_inline" and child.content.startswith("<!--"):
            if kept and kept[-1].type == "text":
                kept[-1].content = kept[-1].content.rstrip(" \t")
            continue
        kept.append(child)
    return kept


def _url_pieces(text: str) -> list[tuple[str, str]]:
    """`text` cut into (piece, kind): kind "" for text, "url" for an http(s) address, and
    the scheme to put before it for a "www." one; `to_plain`'s patterns, in its order."""
    pieces: list[tuple[str, str]] = []
    parts = _HTTP_URL.split(text) if "http" in text else [text]
    for index, part in enumerate(parts):
        if index % 2:
            pieces.append((part, "url"))
        elif "www." in part:
            www = _WWW_URL.split(part)
            pieces += [(p, "http://" if i % 2 else "") for i, p in enumerate(www)]
        else:
            pieces.append((part, ""))
    return pieces


def to_plain(markdown: str) -> str:
    """Convert Markdown to the plain text posted on social networks.

    The author's line breaks are kept, paragraphs are separated by one blank line,
    emphasis and markup are removed, links become "text url", images disappear (media
    are attached separately), bullets become "•" and task boxes "☐"/"☑".
    """
    if (  # six scans beat one regex search here
        "\x00" in markdown
        or "\x01" in markdown
        or "\x02" in markdown
        or "\x03" in markdown
        or "\x04" in markdown
        or "\x05" in markdown
    ):
        markdown = _CONTROL_CHARS.sub("", markdown)
    verbatim: list[str] = []  # what the placeholders stand for, by number
    refs: dict[str, str] = {}  # reference definitions: normalized label -> url
    text = _inline(_blocks(markdown, verbatim, refs), verbatim, refs)
    if "\x02" in text:
        text = _drop_removed(text)
    if verbatim:
        text = _restored(text, verbatim)
    return text.strip()


def _hold(verbatim: list[str], value: str) -> str:
    """Store `value` and return the placeholder standing for it."""
    verbatim.append(value)
    return f"\x00{len(verbatim) - 1}\x01"


def _label(label: str) -> str:
    return " ".join(label.split()).casefold()


def _strip_comments(line: str) -> tuple[str, bool]:
    """Replace the HTML comments of a line with \\x02, leaving code spans alone.

    Return the new line and whether a comment is still open at its end.
    """
    still_open = False

    def replace(match: re.Match[str]) -> str:
        nonlocal still_open
        if match[2] is None:  # a code span: keep it
            return match[0]
        if not match[2].endswith("-->"):
            still_open = True
        return "\x02"

    return _COMMENT_OR_CODE.sub(replace, line), still_open


def _unquote(line: str) -> str:
    quote = _QUOTE.match(line)
    return line[quote.end() :] if quote else line


def _table_row(line: str) -> str:
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return " | ".join(cell.strip() for cell in _PIPE.split(row))


def _blocks(markdown: str, verbatim: list[str], refs: dict[str, str]) -> str:
    """The block pass: one output line per meaningful input line, code held verbatim."""
    if "\r" in markdown:
        markdown = markdown.replace("\r\n", "\n").replace("\r", "\n")
    lines = markdown.split("\n")
    out: list[str] = []
    prev = "blank"  # what the last line written was: blank, para, list or other
    mode = ""  # "", "fence", "code" (indented), "comment", "skip" (a table's separator)
    list_indents: list[int] = []  # source indentation of the open list levels
    code: list[str] = []  # lines of the code block being read
    fence = ""  # the opening fence of the fenced block being read
    fence_indent = 0
    fence_quoted = False
    in_table = False
    # Looked up once for the whole body: most bodies have none of these.
    has_comment = "<!--" in markdown
    has_pipe = "|" in markdown
    has_backslash = "\\" in markdown
    append = out.append

    def flush_code() -> None:
        while code and not code[-1].strip():
            code.pop()
        if code:
            out.append(_hold(verbatim, "\n".join(code)))
        code.clear()

    for number, raw in enumerate(lines):
        if mode:
            if mode == "fence":
                line = _unquote(raw.lstrip(" ")) if fence_quoted else raw
                close = _FENCE_CLOSE.match(line)
                if close and close[1][0] == fence[0] and len(close[1]) >= len(fence):
                    mode = ""
                    flush_code()
                    prev = "other"
                else:
                    spaces = len(line) - len(line.lstrip(" "))
                    code.append(line[min(spaces, fence_indent) :].rstrip())
                continue
            if mode == "skip":
                mode = ""
                continue
            if mode == "comment":
                end = raw.find("-->")
                if end < 0 or not raw[end + 3 :].strip():
                    mode = "" if end >= 0 else mode
                    continue
                mode = ""
                raw = "\x02" + raw[end + 3 :]
            elif mode == "code":
                if not raw.strip():
                    code.append("")
                    continue
                lead_text = raw[: len(raw) - len(raw.lstrip(" \t"))].expandtabs(4)
                if len(lead_text) >= 4:
                    code.append(lead_text[4:] + raw.lstrip(" \t").rstrip())
                    continue
                mode = ""
                blank_after = bool(code) and not code[-1]
                flush_code()
                if blank_after:
                    append("")
                prev = "blank" if blank_after else "other"

        line = raw.rstrip()
        if not line:
            if out and out[-1]:
                append("")
            prev = "blank"
            in_table = False
            continue

        first = line[0]
        if first in " \t":
            stripped = line.lstrip(" \t")
            lead = line[: len(line) - len(stripped)]
            indent = len(lead.expandtabs(4)) if "\t" in lead else len(lead)
            first = stripped[0]
            if indent >= 4 and prev == "blank" and not list_indents:
                mode = "code"
                code.append(lead.expandtabs(4)[4:] + stripped)
                continue
        else:
            stripped = line
            indent = 0

        if has_comment and "<!--" in stripped:
            stripped, still_open = _strip_comments(stripped)
            if still_open:
                mode = "comment"
            if not stripped.replace("\x02", "").strip():
                continue
            first = stripped[0]

        if (
            has_backslash
            and stripped[-1] == "\\"
            and (len(stripped) - len(stripped.rstrip("\\"))) % 2
        ):
            stripped = stripped[:-1].rstrip()  # a hard line break: the newline says it

        if first in _BLOCK_START and (indent <= 3 or list_indents):
            if first == ">":
                stripped = _unquote(stripped).strip()
                if not stripped:
                    if out and out[-1]:
                        append("")
                    prev = "blank"
                    continue
                first = stripped[0]
            if first in "`~":
                opening = _FENCE_OPEN.match(stripped)
                if opening:
                    mode = "fence"
                    fence = opening[1] or opening[2]
                    fence_indent = indent
                    fence_quoted = line.lstrip(" \t")[0] == ">"
                    continue
            elif first == "#":
                heading = _ATX.match(stripped)
                if heading:
                    list_indents.clear()
                    if heading[2]:
                        append(heading[2])
                        prev = "other"
                    continue
            elif first == "[":
                definition = _REF_DEF.match(stripped) if "]:" in stripped else None
                if definition:
                    refs.setdefault(_label(definition[1]), definition[2])
                    continue
            elif (
                first in "-*_="
                and stripped[-1] == first  # rules and underlines end as they start
                and (_RULE.match(stripped) or (prev == "para" and _SETEXT.match(stripped)))
            ):
                prev = "other"  # a rule, or the underline of a heading already written
                continue

            if first in "-*+" or first.isdigit():
                bullet = _BULLET.match(stripped) if first in "-*+" else None
                ordered = None if bullet else _ORDERED.match(stripped)
                item = bullet or ordered
                if item:
                    while list_indents and list_indents[-1] > indent:
                        list_indents.pop()
                    if not list_indents or indent >= list_indents[-1] + 2:
                        list_indents.append(indent)
                    marker = ordered[1] + " " if ordered else "• "
                    content = item[2] if ordered else item[1]
                    if content[0] == "[":
                        task = _TASK.match(content)
                        if task:
                            box = "☐ " if task[1] == " " else "☑ "
                            marker = (marker if ordered else "") + box
                            content = task[2]
                    append("  " * (len(list_indents) - 1) + marker + content)
                    prev = "list"
                    continue

        if has_pipe:
            if "|" not in stripped:
                in_table = False
            elif not in_table and number + 1 < len(lines) and "|" in lines[number + 1]:
                in_table = bool(_TABLE_SEP.match(lines[number + 1]))
                if in_table:
                    mode = "skip"
            if in_table:
                append(_table_row(stripped))
                prev = "other"
                continue

        if list_indents:
            if indent == 0 and prev == "blank":
                list_indents.clear()
            elif indent > 0:
                level = sum(1 for list_indent in list_indents if list_indent < indent)
                append("  " * max(level, 1) + stripped)
                prev = "list"
                continue
        append(stripped)
        prev = "para"

    if code:
        flush_code()
    return "\n".join(out)


def _inline(text: str, verbatim: list[str], refs: dict[str, str]) -> str:
    """The inline pass, over the whole text the block pass produced.

    Inline links and bare URLs are the frequent cases, so they are held without a
    number: each kind gets its own sentinel character and a list in text order, and is
    put back by splitting on the sentinel (see `_put_back`). Nothing removes a sentinel
    of theirs before that, so the orders match.
    """

    def hold(value: str) -> str:
        verbatim.append(value)
        return f"\x00{len(verbatim) - 1}\x01"

    if "`" in text:
        text = _code_spans(text, hold)
    if "\\" in text:
        text = _ESCAPE.sub(lambda m: hold(m[1]), text)
    links: list[str] = []
    if "[" in text:
        if "![" in text:

            def image(match: re.Match[str]) -> str:
                if match[2] is None and _label(match[1]) not in refs:
                    return match[0]  # "![text]" with no definition: not an image
                return "\x02"

            text = _IMAGE.sub(image, text)
        if "](" in text:

            def inline_link(match: re.Match[str]) -> str:
                url = match[2] if match[2] is not None else match[3]
                if not url:
                    return match[1].strip()  # "[text]()": a link to nowhere
                links.append(url)
                return _link(match[1], url, _LINK_MARK, verbatim)

            text = _LINK.sub(inline_link, text)
        if refs:

            def reference(match: re.Match[str]) -> str:
                url = refs.get(_label(match[2] or match[1]))
                return match[0] if url is None else _link(match[1], url, hold(url), verbatim)

            text = _REF_LINK.sub(reference, text)
    if "<" in text:
        text = _AUTOLINK.sub(lambda m: hold(m[1]), text)
        if "<b" in text or "<B" in text:
            text = _BREAK_TAG.sub("\x02\n", text)  # <br>: the author's line break
        text = _TAG.sub("\x02", text)
    urls: list[str] = []
    if "http" in text:
        parts = _HTTP_URL.split(text)
        urls = parts[1::2]
        text = _URL_MARK.join(parts[0::2])
    wwws: list[str] = []
    if "www." in text:
        parts = _WWW_URL.split(text)
        wwws = parts[1::2]
        text = _WWW_MARK.join(parts[0::2])
    if "*" in text or "_" in text or "~~" in text:
        text = _without_emphasis(text)
    if "&" in text:
        text = html.unescape(text)
    if wwws:
        text = _put_back(text, _WWW_MARK, wwws)
    if urls:
        text = _put_back(text, _URL_MARK, urls)
    if links:
        text = _put_back(text, _LINK_MARK, links)
    return text


def _put_back(text: str, mark: str, values: list[str]) -> str:
    """Replace the n-th `mark` in `text` with the n-th value."""
    pieces = text.split(mark)
    merged = [""] * (2 * len(pieces) - 1)
    merged[0::2] = pieces
    merged[1::2] = values  # a length mismatch raises: it would be a bug here
    return "".join(merged)


def _code_content(content: str) -> str:
    if len(content) > 2 and content[0] == " " and content[-1] == " " and content.strip():
        return content[1:-1]
    return content


def _restored(value: str, verbatim: list[str]) -> str:
    """`value` with its placeholders put back, in one pass whatever their number.

    A held value may itself hold placeholders made before it; each is expanded once and
    the expansion kept in `verbatim`, so the work stays linear in the text's length.
    """
    if "\x00" not in value:
        return value

    def expand(match: re.Match[str]) -> str:
        number = int(match[1])
        held = verbatim[number]
        if "\x00" in held:
            held = verbatim[number] = _PLACEHOLDER.sub(expand, held)
        return held

    return _PLACEHOLDER.sub(expand, value)


def _link(label: str, url: str, held: str, verbatim: list[str]) -> str:
    """A link as plain text: "label url", or the url alone when the label only repeats it.

    `held` is what stands for the url in the text.
    """
    label = label.strip()
    if not label:
        return held
    if "." not in label and ":" not in label:
        return f"{label} {held}"  # words, not an address: no need to compare
    plain_label = _restored(label, verbatim).rstrip("/")
    plain_url = _restored(url, verbatim).rstrip("/")
    bare = _SCHEME.sub("", plain_url, count=1)
    if plain_label in (plain_url, bare) or (bare[:4] == "www." and plain_label == bare[4:]):
        return held
    return f"{label} {held}"


def _code_spans(text: str, hold: Callable[[str], str]) -> str:
    """Hold the code spans of `text` (CommonMark: a run of n backticks up to the next run of
    exactly n, never over a blank line). Runs are listed once and each opener finds its
    closer by bisection: linear-logarithmic, where a lazy regex would rescan each line
    from every unmatched backtick."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    out: list[str] = []
    last = 0
    index = 0
    while index < len(runs):
        start, end = runs[index]
        index += 1
        if start and text[start - 1] == "\\":
            before = start - 1
            while before and text[before - 1] == "\\":
                before -= 1
            if (start - before) % 2:
                start += 1  # an escaped backtick is text; the rest of the run may open
                if start == end:
                    continue
        same = by_length.get(end - start, [])
        position = bisect_right(same, index - 1)
        if position == len(same):
            continue
        closer = same[position]
        close_start, close_end = runs[closer]
        content = text[end:close_start]
        if "\n\n" in content:
            continue  # the next run of that length is in another paragraph
        content = content.replace("\n", " ").replace("\x02", "")
        out.append(text[last:start])
        out.append(hold(_code_content(content)))
        last = close_end
        index = closer + 1
    out.append(text[last:])
    return "".join(out)


_OTHER, _SPACE, _PUNCTUATION = 0, 1, 2


def _char_class(char: str) -> int:
    """Whether `char` is Unicode whitespace, punctuation (CommonMark 2.1) or other; kept
    in `_CHAR_CLASS` while it is small (a hostile body may hold every character)."""
    if char.isspace():
        found = _SPACE
    elif char in _ASCII_PUNCTUATION or unicodedata.category(char)[0] == "P":
        found = _PUNCTUATION
    else:
        found = _OTHER
    if len(_CHAR_CLASS) < 4096:
        _CHAR_CLASS[char] = found
    return found


def _flanks(before: int, after: int, underscore: bool) -> tuple[bool, bool]:
    """(can open, can close) for a delimiter run between characters of these classes."""
    left = after != _SPACE and (after != _PUNCTUATION or before != _OTHER)
    right = before != _SPACE and (before != _PUNCTUATION or after != _OTHER)
    if underscore:  # no emphasis inside a word with "_" (snake_case, #cm_lyon)
        return (left and (not right or before == _PUNCTUATION)), (
            right and (not left or after == _PUNCTUATION)
        )
    return left, right


def _delimiter_runs(text: str) -> list[tuple[int, int, str]]:
    """The runs of ``*``, of ``_`` and of two or more ``~`` in `text`, in text order.

    Found with `str.find`, which scans at memchr speed, where a regex starting with a
    character class tries every position (this runs on every post at validation).
    """
    runs: list[tuple[int, int, str]] = []
    size = len(text)
    for char in "*_~":
        start = text.find(char)
        while start >= 0:
            end = start + 1
            while end < size and text[end] == char:
                end += 1
            if char != "~" or end - start >= 2:
                runs.append((start, end, char))
            start = text.find(char, end)
    if len(runs) > 1:
        runs.sort()
    return runs


_CHAR_CLASS: dict[str, int] = {}
# Indexed by 3 * class before + class after.
_FLANKS = [_flanks(b, a, False) for b in range(3) for a in range(3)]
_UNDERSCORE_FLANKS = [_flanks(b, a, True) for b in range(3) for a in range(3)]


def _without_emphasis(text: str) -> str:
    """`text` without the delimiters of its emphasis and strikethrough (none over a blank line).

    CommonMark's delimiter algorithm ("process emphasis", with its openers_bottom bound):
    runs of ``*`` and ``_`` pair by the flanking rules and the rule of three, ``~~`` pairs
    like markdown-it's strikethrough. Each delimiter is visited a bounded number of times,
    so the work is linear, where matching with a regex rescanned the line from every
    opener that had no closer.
    """
    # [low, high, char code, run length, can_open, can_close, floor]: text[low:high] is what
    # is left of the run to pair (a closer uses it from the left, an opener from the right);
    # `floor` is the last delimiter of the paragraphs before, which no closer may reach.
    delims: list[list[int]] = []
    size = len(text)
    classes = _CHAR_CLASS
    blank = text.find("\n\n")  # the next paragraph break
    floor = -1
    for start, end, char in _delimiter_runs(text):
        while 0 <= blank < start:
            floor = len(delims) - 1
            blank = text.find("\n\n", blank + 2)
        # Flanking by table lookups: this runs for every delimiter of every post.
        before = text[start - 1] if start else " "
        after = text[end] if end < size else " "
        before_class = classes.get(before)
        if before_class is None:
            before_class = _char_class(before)
        after_class = classes.get(after)
        if after_class is None:
            after_class = _char_class(after)
        can_open, can_close = (_UNDERSCORE_FLANKS if char == "_" else _FLANKS)[
            before_class * 3 + after_class
        ]
        if can_open or can_close:
            # markdown-it pairs "~" two by two: an odd run's first "~" is text.
            low = start + (end - start) % 2 if char == "~" else start
            delims.append([low, end, ord(char), end - start, can_open, can_close, floor])
    if not delims:
        return text
    if len(delims) == 2:  # the usual post: one emphasised phrase, nothing to search
        first, second = delims
        if (
            first[4]
            and second[5]
            and first[2] == second[2]
            and first[3] == second[3] <= 3
            and first[6] == second[6]
            and (first[2] != _TILDE_CODE or first[3] == 2)
        ):
            return text[: first[0]] + text[first[1] : second[0]] + text[second[1] :]
    count = len(delims)
    previous = list(range(-1, count - 1))  # the stack as a linked list, by index
    bottoms: dict[tuple[int, bool, int], int] = {}
    removed: list[tuple[int, int]] = []
    for closer_index in range(count):
        closer = delims[closer_index]
        if not closer[5]:
            continue
        code = closer[2]
        length = closer[3]
        while closer[1] > closer[0]:
            key = (code, bool(closer[4]), length % 3)
            bottom = max(bottoms.get(key, -1), closer[6])
            opener_index = previous[closer_index]
            found = -1
            while opener_index > bottom:
                opener = delims[opener_index]
                if opener[2] == code and opener[4] and opener[1] > opener[0]:
                    opener_length = opener[3]
                    odd_match = (
                        code != _TILDE_CODE
                        and (opener[5] or closer[4])
                        and (opener_length + length) % 3 == 0
                        and (opener_length % 3 or length % 3)
                    )
                    if not odd_match:
                        found = opener_index
                        break
                opener_index = previous[opener_index]
            if found < 0:
                bottoms[key] = previous[closer_index]
                if not closer[4] and closer_index + 1 < count:
                    previous[closer_index + 1] = previous[closer_index]
                break
            opener = delims[found]
            used = 2 if opener[1] - opener[0] >= 2 and closer[1] - closer[0] >= 2 else 1
            opener[1] -= used
            removed.append((opener[1], opener[1] + used))
            removed.append((closer[0], closer[0] + used))
            closer[0] += used
            previous[closer_index] = found if opener[1] > opener[0] else previous[found]
        if closer[1] == closer[0] and closer_index + 1 < count:
            previous[closer_index + 1] = previous[closer_index]
    if not removed:
        return text
    removed.sort()
    pieces: list[str] = []
    last = 0
    for start, end in removed:
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _drop_removed(text: str) -> str:
    """Delete the \\x02 marks: lines holding nothing else go, spaces around are mended."""
    kept: list[str] = []
    for line in text.split("\n"):
        if "\x02" in line:
            pieces = line.split("\x02")
            line = pieces[0]
            for piece in pieces[1:]:
                if not line or line[-1] in " \t":
                    piece = piece.lstrip(" \t")
                line += piece
            line = line.rstrip()
            if not line.strip():
                continue
        elif not line and kept and not kept[-1]:
            continue
        kept.append(line)
    return "\n".join(kept)
