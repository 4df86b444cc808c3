"""One Markdown dialect: `to_plain` (social networks) reads a body as markdown-it reads it for
the site (`to_html`). For each sample of a corpus, the plain text that markdown-it's tokens
call for is rebuilt here and compared with `to_plain`'s: the same paragraphs and line breaks,
list items and their nesting, emphasis and strikethrough removed, code kept verbatim, links
as "text url" with the same URLs. And the site's links are the plain text's links.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markdown_it.token import Token

from cmflow.markup import _markdown_it, to_html, to_plain

CORPUS = [
    "Bonjour à toutes et à tous !",
    "Ligne un\nligne deux\n\nParagraphe deux",
    "Du **gras**, de l'*italique*, du __gras__ et de l'_italique_.",
    "~~barré~~ et ~~barré avec **gras**~~ fin",
    "***très fort*** et **gras avec *italique* dedans**",
    "**gras sur\ndeux lignes** fin",
    "*pas sur\n\ndeux paragraphes*",
    "snake_case et une_variable_longue, 5 * 3 = 15",
    "un ~ seul tilde et ~~~ trois",
    "#communitymanagement #cm_lyon #RéseauxSociaux",
    "# Titre\nTexte sous le titre\n\n## Sous-titre ##\n\nFin",
    "Titre\n=====\n\nSous-titre\n----------\nTexte",
    "avant\n\n---\n\naprès",
    "Au programme :\n- atelier « ligne éditoriale »\n- table ronde\n- apéro 🥂",
    "Au programme :\n\n- un\n- deux\n\nFin du programme.",
    "- un\n  - un point un\n  - un point deux\n- deux",
    "- un\n    - sous-point à quatre espaces\n- deux",
    "1. premier\n2. deuxième\n3) troisième",
    "Étapes :\n1. ouvrir\n2. écrire",
    "- [ ] à faire\n- [x] fait\n- [X] fait aussi",
    "> Une citation\n> sur deux lignes\n>\n> et un second paragraphe",
    "> - une liste\n> - citée",
    "Lisez [notre article](https://exemple.fr/article) !",
    "[https://exemple.fr](https://exemple.fr) et [exemple.fr/page](https://exemple.fr/page)",
    '[le site](https://exemple.fr "Titre du site") et [vide]()',
    "Voir https://exemple.fr/a_b_c et www.exemple.fr/page, puis (https://exemple.fr/x).",
    "Écrivez-nous : <mailto:contact@exemple.fr> ou <https://exemple.fr/contact>",
    "[lien de référence][ref] et [ref]\n\n[ref]: https://exemple.fr/ref",
    "Une image ![un chat](media/chat.png) dans le texte",
    "![seule](media/seule.png)\n\nTexte après",
    "Du `code` et ``du `code` avec accent grave``",
    "```python\nprint('bonjour')\n\n\nx = 1\n```\n\nAprès le code",
    "Texte\n\n    code indenté\n    seconde ligne\n\nFin",
    "| Jour | Atelier |\n|------|---------|\n| lundi | écriture |\n| mardi | vidéo |",
    "Échappés : \\*pas italique\\* et \\_pas non plus\\_ \\# \\[x\\]",
    "Entités : &amp; &lt;b&gt; &eacute;t&eacute; &#233;",
    "Du <b>gras HTML</b>, un saut<br>de ligne et <sup>exposant</sup>",
    "un <!-- note --> deux\n\n<!-- thread -->\n\ntrois",
    "espaces en fin  \nbarre oblique\\\nfin",
    "Prix : 5 € * 2 = 10 € et 3 * 4",
    "**[lien en gras](https://exemple.fr)** et *https://exemple.fr/italique*",
    "Rendez-vous le 12/03 à 18 h 30 — « Écrire pour être lu » ; inscription : https://exemple.fr/i?a=1&b=2",
    "1. un\n\n2. deux (liste lâche)\n\n3. trois",
    "- un\n\n  suite du point un\n- deux",
    "__*imbriqués*__ et *__inversés__*",
    "a*b*c et a_b_c et *a*b",
    "**non fermé et *italique* fermé",
    "L'équipe vous dit : **merci** !\n\n<!-- thread -->\n\nDeuxième partie.",
    # emphasis where CommonMark's delimiter rules decide
    "*a **b** c* et **a*",
    "*a** et _a_b et __init__ et *foo*bar",
    "*sur\ntrois\nlignes* fin",
    "*(**entre parenthèses**)* et **foo*bar**",
    "foo***bar***baz et * pas d'emphase *",
    "`a*b` *c* et [*lien en italique*](https://exemple.fr/i)",
    "**Prix** : 5*2 = 10 et *vraiment*.",
    "~~a~~~ et ~~~b~~ et ~~ pas barré ~~",
    "x~~~a~~~~~y et x~~~b~~~y et ~~~~c~~~~",
    "***a** b* et *a **b*** et **a *b***",
    "_a __b___ et *a*b*c* et **a**b**c** et ***a***",
    "*a _b* c_ et _a *b_ c*",
    "_« citation »_ et *« autre »*",
    "**gras**suivi et l'**apostrophe**",
]


def _inline(children: list[Token], normalize: object) -> str:
    out: list[str] = []
    links: list[tuple[Token, int]] = []
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            out.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "html_inline" and re.fullmatch(r"<br\s*/?>", child.content, re.IGNORECASE):
            out.append("\x02\n")  # the author's line break, written in HTML
        elif kind in ("image", "html_inline"):
            out.append("\x02")  # removed: the spaces around it are mended below
        elif kind == "link_open":
            links.append((child, len(out)))
        elif kind == "link_close":
            opener, start = links.pop()
            label = "".join(out[start:])
            del out[start:]
            url = _markdown_it().normalizeLinkText(str(opener.attrs["href"]))
            out.append(_link(label, url, opener.markup))
    text = "".join(out)
    return _REMOVED.sub(r"\1", text).replace("\x02", "")


_REMOVED = re.compile(r"(^|[ \t])\x02[ \t]*", re.MULTILINE)


def _link(label: str, url: str, markup: str) -> str:
    """How `to_plain` writes a link: its text then its URL, the URL alone when the text only
    repeats it, the text alone for an autolink (`<mailto:…>` shows the address)."""
    label = label.strip()
    if markup == "autolink" or markup == "linkify":
        return label
    bare = re.sub(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|mailto:)", "", url.rstrip("/"))
    if (
        not label
        or label.rstrip("/") in (url.rstrip("/"), bare)
        or label == bare.removeprefix("www.")
    ):
        return url
    return f"{label} {url}"


def reference_plain(markdown: str) -> str:
    """The plain text markdown-it's tokens call for, written `to_plain`'s way: one line per
    source line, a blank line where the source has one between two blocks, "• " or the
    number for list items (two spaces per level), task boxes as ☐/☑."""
    tokens = _markdown_it().parse(markdown)
    source = markdown.split("\n")
    blocks: list[tuple[int, int, list[str]]] = []  # first line, end line, lines
    lists: list[str] = []  # the open lists' kinds
    marker = ""
    for index, token in enumerate(tokens):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            lists.append(kind)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            bullet = lists[-1] == "bullet_list_open"
            marker = "  " * (len(lists) - 1) + ("• " if bullet else f"{token.info}{token.markup} ")
        elif kind == "inline" and tokens[index - 1].type in ("paragraph_open", "heading_open"):
            text = _inline(token.children or [], None)
            if marker:
                if marker.endswith("• ") and text[:1] in "☐☑" and text:
                    marker = marker[:-2]
                text = marker + text
                marker = ""
            lines = [line.rstrip() for line in text.split("\n")]
            lines = [line for line in lines if line.strip()]
            if lines:
                first, end = tokens[index - 1].map or (0, 0)
                blocks.append((first, end, lines))
        elif kind in ("fence", "code_block"):
            first, end = token.map or (0, 0)
            lines = token.content.rstrip("\n").split("\n")
            while lines and not lines[-1].strip():
                lines.pop()
            blocks.append((first, end, lines))
        elif kind == "tr_open":
            cells: list[str] = []
            position = index + 1
            while tokens[position].type != "tr_close":
                if tokens[position].type == "inline":
                    cells.append(_inline(tokens[position].children or [], None).strip())
                position += 1
            first, end = token.map or (0, 0)
            blocks.append((first, end, [" | ".join(cells)]))
    out: list[str] = []
    previous_end = -1
    for first, end, lines in blocks:
        between = source[previous_end:first] if previous_end >= 0 else []
        if out and any(not line.strip(" \t>") for line in between):
            out.append("")
        out += lines
        previous_end = end
    return "\n".join(out)


def _normalized(text: str) -> list[str]:
    """Lines without their indentation, except a list item's (it shows the nesting)."""
    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        is_item = bool(re.match(r"(?:• |\d{1,9}[.)] |[☐☑] )", stripped))
        lines.append(line.rstrip() if is_item else stripped)
    return lines


@pytest.mark.parametrize("markdown", CORPUS)
def test_to_plain_reads_the_structure_markdown_it_reads(markdown: str) -> None:
    assert _normalized(to_plain(markdown)) == _normalized(reference_plain(markdown))


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value or "" for name, value in attrs if name == "href"]


@pytest.mark.parametrize("markdown", CORPUS)
def test_the_site_links_what_the_plain_text_links(markdown: str) -> None:
    parser = _Hrefs()
    parser.feed(to_html(markdown))
    md = _markdown_it()
    site = [md.normalizeLinkText(href) for href in parser.hrefs]
    plain = to_plain(markdown)
    for url in site:
        shown = url.removeprefix("mailto:").removeprefix("http://")
        assert shown in plain, (url, plain)
