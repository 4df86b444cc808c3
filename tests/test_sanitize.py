"""Tests for cmflow.sanitize: what a post's HTML may carry onto the brand's site.

Two promises: nothing executable gets through (scripts, handlers, dangerous URLs, however
obfuscated), and nothing the author wrote as text is lost (an unclosed or self-closing
tag that makes a browser swallow what follows must not eat the rest of the post).
"""

from __future__ import annotations

import pytest

from cmflow.sanitize import clean_html
from tests.htmlcheck import balanced, text_of, unsafe

XSS_VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<img src=x oNeRrOr=alert(1)>",
    '<img src="x" onerror="alert(1)"/>',
    "<body onload=alert(1)>",
    '<div onmouseover="alert(1)">survol</div>',
    '<a href="javascript:alert(1)">lien</a>',
    '<a href="JaVaScRiPt:alert(1)">lien</a>',
    '<a href=" javascript:alert(1)">lien</a>',
    '<a href="java\tscript:alert(1)">lien</a>',
    '<a href="java&#x09;script:alert(1)">lien</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">lien</a>',
    '<a href="&#x6A;avascript:alert(1)">lien</a>',
    '<a href="javascript&colon;alert(1)">lien</a>',
    '<a href="vbscript:msgbox(1)">lien</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">lien</a>',
    '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">',
    '<img src="javascript:alert(1)">',
    '<img srcset="javascript:alert(1) 1x" src="https://exemple.fr/a.png">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style>",
    '<math href="javascript:alert(1)">x</math>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p style="width: expression(alert(1))">x</p>',
    '<td style="text-align:left;background:url(javascript:alert(1))">x</td>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example/">',
    '<form action="https://evil.example/"><input name="q"><button>ok</button></form>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<!--<img src=x onerror=alert(1)>-->",
    "<!-- --!><img src=x onerror=alert(1)> -->",
    "<![CDATA[<img src=x onerror=alert(1)>]]>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<textarea></textarea><img src=x onerror=alert(1)>",
    "<title><img src=x onerror=alert(1)></title>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    '<a href="https://exemple.fr" target="_blank" onclick="alert(1)">lien</a>',
    "<details open ontoggle=alert(1)>",
    '<video><source onerror="alert(1)"></video>',
    "<input autofocus onfocus=alert(1)>",
    "<<script>script>alert(1)<</script>/script>",
    "<img src=`x`onerror=alert(1)>",
    "<img/src=x/onerror=alert(1)>",
    '<a href="https://exemple.fr"\x00onclick="alert(1)">lien</a>',
]


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_nothing_executable_gets_through(vector: str) -> None:
    cleaned = clean_html(vector)
    assert not unsafe(cleaned), cleaned
    assert balanced(cleaned), cleaned


def test_a_script_goes_with_its_code_and_the_text_around_stays() -> None:
    assert clean_html("<p>avant<script>alert(1)</script> après</p>") == "<p>avant après</p>"
    assert clean_html("<style>p { color: red }</style><p>texte</p>") == "<p>texte</p>"


# --- nothing the author wrote is lost --------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "<p>Use the <style> tag…</p>\n<p>More text</p>",
        "<p>Use the <STYLE type=text/css> tag…</p>\n<p>More text</p>",
        "<p>Use the <script> tag…</p>\n<p>More text</p>",
        "<p>A <template> element…</p>\n<p>More text</p>",
        "<p>An <iframe/> here…</p>\n<p>More text</p>",
        "<p>An <iframe src=x> here…</p>\n<p>More text</p>",
        "<p>A <textarea> here…</p>\n<p>More text</p>",
        "<p>A <title> here…</p>\n<p>More text</p>",
        "<p>A <xmp> here…</p>\n<p>More text</p>",
        "<p>A <noscript> here…</p>\n<p>More text</p>",
        "<p>A <noembed> here…</p>\n<p>More text</p>",
        "<p>A <noframes> here…</p>\n<p>More text</p>",
        "<p>A <plaintext> here…</p>\n<p>More text</p>",
        "<p>A <style/> here…</p>\n<p>More text</p>",
        "<p>A <script/> here…</p>\n<p>More text</p>",
        "<p>A <style here…</p>\n<p>More text</p>",
    ],
)
def test_text_after_a_tag_that_swallows_what_follows_survives(html: str) -> None:
    cleaned = clean_html(html)
    assert "More text" in cleaned
    assert "…</p>" in cleaned  # the rest of the first paragraph too
    assert "<p>More text</p>" in cleaned
    assert balanced(cleaned)


def test_the_content_of_a_closed_template_or_iframe_is_kept_and_cleaned() -> None:
    cleaned = clean_html("<template><b>gras</b><img src=x onerror=alert(1)></template>fin")
    assert cleaned == '<b>gras</b><img src="x">fin'
    assert clean_html("<iframe>repli</iframe> fin") == "repli fin"


def test_many_unclosed_swallowing_tags_keep_all_text() -> None:
    html = "<p>" + "mot <style> " * 5000 + "fin</p>"
    cleaned = clean_html(html)
    assert cleaned.count("mot") == 5000
    assert cleaned.endswith("fin</p>")


# --- balanced output --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "<table><tr><td>cellule",
        "</div>texte</p>",
        "<div><p>un<div>deux</p></div>",
        "<b><i>croisés</b></i>",
        "<ul><li>un<li>deux",
        "<table><p>hors</p><tr><td>x</td></tr></table>",
        "<blockquote><blockquote>profond",
        "<p><p><p>",
        "</p></p></table></tr>",
    ],
)
def test_unbalanced_markup_comes_out_balanced(html: str) -> None:
    cleaned = clean_html(html)
    assert balanced(cleaned), cleaned
    for word in ("cellule", "texte", "un", "deux", "croisés", "hors", "profond"):
        if word in html:
            assert word in text_of(cleaned)


# --- what is kept -----------------------------------------------------------------------------


def test_links_get_rel_noopener_noreferrer() -> None:
    assert clean_html('<a href="https://exemple.fr/a?b=1&amp;c=2">lien</a>') == (
        '<a href="https://exemple.fr/a?b=1&amp;c=2" rel="noopener noreferrer">lien</a>'
    )
    assert clean_html('<a href="https://exemple.fr" rel="opener">x</a>') == (
        '<a href="https://exemple.fr" rel="noopener noreferrer">x</a>'
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://exemple.fr/é?x=1",
        "http://exemple.fr",
        "mailto:contact@exemple.fr",
        "/page",
        "#ancre",
        "../a",
    ],
)
def test_safe_urls_are_kept(url: str) -> None:
    assert f'href="{url}"' in clean_html(f'<a href="{url}">x</a>')


def test_formatting_tags_and_their_attributes_are_kept() -> None:
    html = (
        "<h2>Titre</h2><p><strong>gras</strong> <em>it</em> <del>barré</del> <code>x</code>"
        '<br><img src="/media/a.png" alt="Un chat" title="t"></p>'
        '<ol start="3"><li>trois</li></ol><pre><code class="language-python">print()</code></pre>'
        '<table><thead><tr><th style="text-align:right">n</th></tr></thead></table>'
    )
    assert clean_html(html) == (
        "<h2>Titre</h2><p><strong>gras</strong> <em>it</em> <del>barré</del> <code>x</code>"
        '<br><img src="/media/a.png" alt="Un chat" title="t"></p>'
        '<ol start="3"><li>trois</li></ol><pre><code class="language-python">print()</code></pre>'
        '<table><thead><tr><th style="text-align:right">n</th></tr></thead></table>'
    )


def test_classes_and_styles_are_narrowed() -> None:
    assert clean_html('<code class="language-js evil">x</code>') == "<code>x</code>"
    assert clean_html('<p class="x" style="color:red">x</p>') == "<p>x</p>"
    assert clean_html('<td style="color:red">x</td>') == "x"  # a cell outside a table: text


def test_text_is_escaped_and_entities_survive() -> None:
    assert (
        clean_html("<p>1 &lt; 2 &amp; «&nbsp;ok&nbsp;»</p>")
        == "<p>1 &lt; 2 &amp; «&nbsp;ok&nbsp;»</p>"
    )
    assert clean_html("a < b > c") == "a &lt; b &gt; c"
