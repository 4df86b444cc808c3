"""Tests for cmflow.markup: thread splitting, Markdown to plain text and to HTML."""

from __future__ import annotations

import sys

import pytest

from cmflow.markup import THREAD_BREAK, body_line_of, split_thread, to_html, to_plain

# --- THREAD_BREAK and split_thread ---------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    ["<!-- thread -->", "  <!--thread-->  ", "<!-- THREAD -->", "\t<!--   Thread\t-->"],
)
def test_thread_break_matches_a_line_holding_only_the_marker(line: str) -> None:
    assert THREAD_BREAK.fullmatch(line)


@pytest.mark.parametrize(
    "line", ["text <!-- thread -->", "<!-- thread --> text", "<!-- threads -->", "<!-- -->"]
)
def test_thread_break_ignores_other_lines(line: str) -> None:
    assert not THREAD_BREAK.search(line)


def test_thread_break_matches_whole_lines_inside_a_body() -> None:
    body = "un\n\n<!-- thread -->\ndeux"
    match = THREAD_BREAK.search(body)
    assert match is not None
    assert match.group() == "<!-- thread -->"
    assert body_line_of(body, match.start()) == 2


def test_split_thread_in_three_parts() -> None:
    body = (
        "Premier message.\n\n<!-- thread -->\n\n"
        "Deuxième message,\nsur deux lignes.\n  <!-- Thread -->  \n"
        "Troisième message.\n"
    )
    assert split_thread(body) == [
        "Premier message.",
        "Deuxième message,\nsur deux lignes.",
        "Troisième message.",
    ]


def test_split_thread_drops_empty_parts() -> None:
    body = "<!-- thread -->\n\nseul\n<!-- thread -->\n   \n<!-- thread -->\n"
    assert split_thread(body) == ["seul"]
    assert split_thread("") == []
    assert split_thread("sans coupure") == ["sans coupure"]


def test_split_thread_ignores_a_break_inside_a_fenced_code_block() -> None:
    body = (
        "Comment couper un fil :\n\n"
        "```markdown\nun\n<!-- thread -->\ndeux\n```\n\n"
        "<!-- thread -->\n\n"
        "~~~~\n<!-- thread -->\n~~~\n~~~~\nfin"
    )
    assert split_thread(body) == [
        "Comment couper un fil :\n\n```markdown\nun\n<!-- thread -->\ndeux\n```",
        "~~~~\n<!-- thread -->\n~~~\n~~~~\nfin",
    ]


def test_split_thread_accepts_windows_line_endings() -> None:
    assert split_thread("un\r\n<!-- thread -->\r\ndeux\r\n") == ["un", "deux"]


# --- body_line_of ----------------------------------------------------------------------------


def test_body_line_of() -> None:
    body = "zéro\nun\n\ntrois"
    assert body_line_of(body, 0) == 0
    assert body_line_of(body, body.index("un")) == 1
    assert body_line_of(body, body.index("\n")) == 0  # the newline ends its own line
    assert body_line_of(body, body.index("trois")) == 3
    assert body_line_of(body, len(body)) == 3
    assert body_line_of("", 0) == 0


@pytest.mark.parametrize("index", [-1, 6])
def test_body_line_of_rejects_an_index_outside_the_body(index: int) -> None:
    with pytest.raises(ValueError):
        body_line_of("abcde", index)


# --- to_plain: paragraphs and line breaks ----------------------------------------------------


def test_paragraphs_and_line_breaks_are_kept() -> None:
    assert to_plain("Ligne un\nligne deux\n\nParagraphe deux") == (
        "Ligne un\nligne deux\n\nParagraphe deux"
    )


def test_hard_breaks_become_plain_newlines() -> None:
    assert to_plain("espaces  \nbarre\\\nfin") == "espaces\nbarre\nfin"


def test_an_escaped_backslash_at_the_end_of_a_line_stays() -> None:
    assert to_plain("C:\\\\\nsuite") == "C:\\\nsuite"


def test_blank_lines_collapse_and_the_result_is_stripped() -> None:
    assert to_plain("\n\n  un\n\n\n\n\ndeux  \n\n\n") == "un\n\ndeux"


# --- to_plain: emphasis ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("**a**", "a"),
        ("__a__", "a"),
        ("*a*", "a"),
        ("_a_", "a"),
        ("***a***", "a"),
        ("~~a~~", "a"),
        ("du **gras** et de l'*italique*", "du gras et de l'italique"),
        ("**gras avec *italique* dedans**", "gras avec italique dedans"),
        ("~~barré avec **gras**~~", "barré avec gras"),
        ("**gras sur\ndeux lignes** fin", "gras sur\ndeux lignes fin"),
        ("*pas sur\n\ndeux paragraphes*", "*pas sur\n\ndeux paragraphes*"),
    ],
)
def test_emphasis_is_removed(markdown: str, plain: str) -> None:
    assert to_plain(markdown) == plain


@pytest.mark.parametrize(
    "text",
    [
        "snake_case et une_variable_longue",
        "5 * 3 = 15 et 2 * 4 = 8",
        "note * importante",
        "un ~ seul tilde",
        "#communitymanagement #cm_fr",
    ],
)
def test_emphasis_characters_that_are_not_emphasis_stay(text: str) -> None:
    assert to_plain(text) == text


# --- to_plain: headings and rules ------------------------------------------------------------


def test_atx_headings_become_their_text() -> None:
    assert to_plain("## Titre\nTexte\n\n# Grand *titre* #\n\n###### Petit") == (
        "Titre\nTexte\n\nGrand titre\n\nPetit"
    )


def test_a_hashtag_at_line_start_is_not_a_heading() -> None:
    assert to_plain("#communitymanagement est notre métier\n#cm") == (
        "#communitymanagement est notre métier\n#cm"
    )


def test_setext_headings_become_their_text() -> None:
    assert to_plain("Titre\n=====\n\nSous-titre\n----------\nTexte") == (
        "Titre\n\nSous-titre\nTexte"
    )


def test_horizontal_rules_are_removed() -> None:
    assert to_plain("avant\n\n---\n\n***\n\n_ _ _\n\naprès") == "avant\n\naprès"


# --- to_plain: links, URLs and images --------------------------------------------------------


def test_links_become_text_then_url() -> None:
    assert to_plain("Lisez [notre article](https://exemple.fr/article) !") == (
        "Lisez notre article https://exemple.fr/article !"
    )


def test_a_link_whose_text_is_its_url_gives_the_url_once() -> None:
    assert to_plain("[https://exemple.fr](https://exemple.fr)") == "https://exemple.fr"
    assert to_plain("[exemple.fr/page](https://exemple.fr/page)") == "https://exemple.fr/page"
    assert to_plain("[exemple.fr](https://www.exemple.fr/)") == "https://www.exemple.fr/"


def test_a_link_without_text_gives_the_url_and_one_without_url_the_text() -> None:
    assert to_plain("voir [](https://exemple.fr) et [rien]() fin") == (
        "voir https://exemple.fr et rien fin"
    )


def test_a_link_title_is_dropped() -> None:
    assert to_plain('[le site](https://exemple.fr "Titre du site")') == "le site https://exemple.fr"
    assert to_plain("[le site](<https://exemple.fr/a b> 'titre')") == (
        "le site https://exemple.fr/a b"
    )


def test_a_link_url_keeps_its_parentheses() -> None:
    assert to_plain("[Paris](https://fr.wikipedia.org/wiki/Paris_(France))") == (
        "Paris https://fr.wikipedia.org/wiki/Paris_(France)"
    )


def test_link_text_loses_its_emphasis() -> None:
    assert to_plain("[**gras**](https://exemple.fr) et **[lien](https://a.fr/_x_)**") == (
        "gras https://exemple.fr et lien https://a.fr/_x_"
    )


def test_autolinks_lose_their_brackets() -> None:
    assert to_plain("Voir <https://exemple.fr/un_deux> ou <contact@exemple.fr>") == (
        "Voir https://exemple.fr/un_deux ou contact@exemple.fr"
    )


def test_reference_links_are_resolved_and_definitions_removed() -> None:
    markdown = (
        "Lisez [l'article][art] et [le Site][].\n"
        "Et [inconnu][nulle-part].\n\n"
        "[art]: https://exemple.fr/article_un\n"
        '[le site]: <https://exemple.fr> "Accueil"'
    )
    assert to_plain(markdown) == (
        "Lisez l'article https://exemple.fr/article_un et le Site https://exemple.fr.\n"
        "Et [inconnu][nulle-part]."
    )


def test_images_are_removed() -> None:
    assert to_plain("Avant ![une photo](photo.jpg) après") == "Avant après"
    assert to_plain('Texte\n\n![photo](img/photo_1.jpg "Titre")\n\nSuite') == "Texte\n\nSuite"
    assert to_plain("Texte\n![photo](photo.jpg)\nSuite") == "Texte\nSuite"
    assert to_plain("[![logo](logo.png)](https://exemple.fr)") == "https://exemple.fr"


@pytest.mark.parametrize(
    "url",
    [
        "https://exemple.fr/un_deux_trois",
        "https://exemple.fr/_cache_/page",
        "https://exemple.fr/a*b*c",
        "https://exemple.fr/~~x~~",
        "http://exemple.fr/?q=a_b&r=*c*",
        "www.exemple.fr/_page_",
    ],
)
def test_bare_urls_are_untouched(url: str) -> None:
    assert to_plain(f"Voir {url} ici") == f"Voir {url} ici"


def test_a_bare_url_leaves_the_sentence_punctuation_and_emphasis_out() -> None:
    assert to_plain("(voir https://exemple.fr/a_b). **https://exemple.fr/c_d** !") == (
        "(voir https://exemple.fr/a_b). https://exemple.fr/c_d !"
    )


# --- to_plain: lists -------------------------------------------------------------------------


def test_bullets_become_dots() -> None:
    assert to_plain("- un\n* deux\n+ trois") == "• un\n• deux\n• trois"


def test_nested_lists_are_indented_two_spaces_per_level() -> None:
    markdown = "- un\n  - un.un\n    - un.un.un\n- deux\n    - deux.un (4 espaces)"
    assert to_plain(markdown) == (
        "• un\n  • un.un\n    • un.un.un\n• deux\n  • deux.un (4 espaces)"
    )


def test_ordered_lists_are_kept() -> None:
    assert to_plain("1. un\n2. **deux**\n   - sous-point\n10. dix") == (
        "1. un\n2. deux\n  • sous-point\n10. dix"
    )


def test_task_lists_become_boxes() -> None:
    assert to_plain("- [ ] à faire\n- [x] fait\n- [X] fait aussi\n  - [ ] sous-tâche") == (
        "☐ à faire\n☑ fait\n☑ fait aussi\n  ☐ sous-tâche"
    )


def test_a_list_item_keeps_its_following_paragraph() -> None:
    assert to_plain("- point\n\n  détail du point\n\nFin") == "• point\n\n  détail du point\n\nFin"


# --- to_plain: blockquotes -------------------------------------------------------------------


def test_blockquote_markers_are_stripped() -> None:
    assert to_plain("> Une *citation*\n> sur deux lignes\n>\n> > imbriquée\n\nFin") == (
        "Une citation\nsur deux lignes\n\nimbriquée\n\nFin"
    )


# --- to_plain: code --------------------------------------------------------------------------


def test_inline_code_keeps_its_content_verbatim() -> None:
    assert to_plain("Tapez `git *commit*` puis ``a `b` c``") == "Tapez git *commit* puis a `b` c"


def test_fenced_code_blocks_keep_their_lines_verbatim() -> None:
    markdown = (
        "Avant\n\n```python\nx = **y**  # _z_\n\n\n<!-- pas un commentaire -->\n```\n\n"
        "~~~\n[lien](url) &amp;\n~~~\nAprès"
    )
    assert to_plain(markdown) == (
        "Avant\n\nx = **y**  # _z_\n\n\n<!-- pas un commentaire -->\n\n[lien](url) &amp;\nAprès"
    )


def test_an_unclosed_fence_runs_to_the_end() -> None:
    assert to_plain("Texte\n```\n*code*") == "Texte\n*code*"


def test_indented_code_blocks_keep_their_content() -> None:
    assert to_plain("Exemple :\n\n    a = *b*\n      indenté\n\nFin") == (
        "Exemple :\n\na = *b*\n  indenté\n\nFin"
    )


# --- to_plain: HTML --------------------------------------------------------------------------


def test_html_comments_are_removed() -> None:
    markdown = (
        "Début <!-- note --> milieu\n<!-- seul sur sa ligne -->\nsuite\n\n"
        "<!-- sur\nplusieurs\nlignes -->\n\nfin <!-- ouvert\nfermé --> reprise"
    )
    assert to_plain(markdown) == "Début milieu\nsuite\n\nfin\nreprise"


def test_a_thread_break_disappears_from_plain_text() -> None:
    assert to_plain("un\n\n<!-- thread -->\n\ndeux") == "un\n\ndeux"


def test_inline_html_tags_are_removed_and_their_text_kept() -> None:
    assert to_plain('Du <b>gras</b>, un <a href="https://x.fr">lien</a> et <3, a < b > c') == (
        "Du gras, un lien et <3, a < b > c"
    )
    assert to_plain("<div>\nbloc\n</div>\n\nsuite <span>ici</span>") == "bloc\n\nsuite ici"


def test_a_br_tag_is_a_line_break() -> None:
    assert to_plain("ligne un<br>ligne deux <br/> ligne trois") == (
        "ligne un\nligne deux\nligne trois"
    )


def test_html_entities_are_decoded() -> None:
    assert to_plain("R&amp;D&nbsp;: &eacute;t&eacute; &#8364; &lt;3") == "R&D\xa0: été € <3"


# --- to_plain: escapes, tables, Unicode ------------------------------------------------------


def test_backslash_escapes_give_the_literal_character() -> None:
    assert to_plain("\\*pas d'italique\\* \\_non\\_ \\# \\[crochets\\] 1\\. \\\\") == (
        "*pas d'italique* _non_ # [crochets] 1. \\"
    )
    assert to_plain("\\# pas un titre\n\\- pas une puce") == "# pas un titre\n- pas une puce"


def test_tables_keep_their_rows_without_the_separator() -> None:
    markdown = "| Jour | Lieu |\n|------|:----:|\n| *lundi* | Lyon |\nmardi | Paris \\| Nord\n\nFin"
    assert to_plain(markdown) == "Jour | Lieu\nlundi | Lyon\nmardi | Paris | Nord\n\nFin"


def test_a_pipe_in_a_paragraph_is_not_a_table() -> None:
    assert to_plain("Lyon | Paris\nfin") == "Lyon | Paris\nfin"


def test_unicode_is_preserved() -> None:
    text = "Café, œuvre, « guillemets », naïveté — 🎉👩‍💻 ✨"
    assert to_plain(text) == text


def test_control_characters_cannot_forge_placeholders() -> None:
    assert to_plain("a\x000\x01b\x03\x04c [l](https://x.fr)") == "a0bc l https://x.fr"


def test_windows_line_endings() -> None:
    assert to_plain("**un**\r\n- deux\r\n\r\ntrois") == "un\n• deux\n\ntrois"


# --- to_plain: a realistic post --------------------------------------------------------------


def test_a_realistic_french_post() -> None:
    markdown = """## Rencontre des community managers 🎉

Le **jeudi 12 juin**, on se retrouve à Lyon pour parler *modération*
et stratégie éditoriale.

Au programme :

- atelier « ligne éditoriale »
- table ronde avec [l'équipe de Cap Social](https://cap-social.fr/equipe)
- apéro 🥂

Inscription : https://exemple.fr/evenements/rencontre_cm_2025?utm_source=linkedin

<!-- penser à ajouter le lien du replay -->

#communitymanagement #cm_lyon #RéseauxSociaux
"""
    assert to_plain(markdown) == (
        "Rencontre des community managers 🎉\n"
        "\n"
        "Le jeudi 12 juin, on se retrouve à Lyon pour parler modération\n"
        "et stratégie éditoriale.\n"
        "\n"
        "Au programme :\n"
        "\n"
        "• atelier « ligne éditoriale »\n"
        "• table ronde avec l'équipe de Cap Social https://cap-social.fr/equipe\n"
        "• apéro 🥂\n"
        "\n"
        "Inscription : https://exemple.fr/evenements/rencontre_cm_2025?utm_source=linkedin\n"
        "\n"
        "#communitymanagement #cm_lyon #RéseauxSociaux"
    )


def test_to_plain_imports_neither_markdown_it_nor_nh3() -> None:
    heavy = ("markdown_it", "nh3", "mdurl")
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.startswith(heavy)}
    try:
        to_plain("**a** [b](https://c.fr) https://d.fr ~~e~~")
        assert not [name for name in sys.modules if name.startswith(heavy)]
    finally:
        sys.modules.update(saved)


# --- to_html ---------------------------------------------------------------------------------


def test_to_html_renders_emphasis_links_and_lists() -> None:
    rendered = to_html("Du **gras** et [un lien](https://exemple.fr).\n\n- un\n- deux\n")
    assert "<strong>gras</strong>" in rendered
    assert '<a href="https://exemple.fr" rel="noopener noreferrer">un lien</a>' in rendered
    assert "<ul>\n<li>un</li>\n<li>deux</li>\n</ul>" in rendered


def test_to_html_drops_comments_but_not_code() -> None:
    rendered = to_html(
        "un <!-- note --> deux\n\n<!-- thread -->\n\ntrois\n\n"
        "```\n<!-- gardé -->\n\n\nfin du code\n```\n\n<!-- sur\ndeux lignes -->\n"
    )
    assert "<!--" not in rendered
    assert rendered == (
        "<p>un deux</p>\n<p>trois</p>\n"
        "<pre><code>&lt;!-- gardé --&gt;\n\n\nfin du code\n</code></pre>"
    )


def test_to_html_uses_the_extra_extensions() -> None:
    rendered = to_html("| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<table>" in rendered
