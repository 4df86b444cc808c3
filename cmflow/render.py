"""What each channel receives: the body rendered for the network, variants, UTM, threads,
and each part's length counted the network's way."""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import quote_plus

from cmflow import counting, markup
from cmflow.config import Channel, LinkTracking
from cmflow.model import Link, Media, Part, Post, Rendered, media_of
from cmflow.platforms.spec import Capability

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_NO_VARIANT: dict[str, Any] = {}  # read only


def render(post: Post, channel: Channel, *, html: bool = False, measure: bool = True) -> Rendered:
    """Render `post` for `channel`. With `html`, feed-like channels also get `Rendered.html`.

    Without `measure` (validation), what the channel receives but not its measures: each
    part's text and media as sent, its `links` left empty and its `length` 0 (the rules
    count a part only where it may be over the limit: `counting.exceeding`)."""
    fields = _fields_of(post, _variant(post, channel.name))
    return _render(post, channel, fields, html, measure, {})


def render_each(
    post: Post,
    channels: list[Channel],
    *,
    measure: bool = True,
    labels: dict[str, str] | None = None,
) -> list[Rendered]:
    """`render(post, c, measure=measure)` for each channel: the fields of the post are read
    once for all the channels without a variant (what most posts send everywhere).
    `labels`: each counter's label as worked out by earlier calls in the same language (a
    caller rendering many posts keeps one), filled in as needed."""
    shared: Fields | None = None
    if labels is None:
        labels = {}
    out: list[Rendered] = []
    for channel in channels:
        over = _variant(post, channel.name)
        if over is not _NO_VARIANT:
            fields = _fields_of(post, over)
        else:
            if shared is None:
                shared = _fields_of(post, over)
            fields = shared
        out.append(_render(post, channel, fields, False, measure, labels))
    return out


def channel_fields(post: Post, channel: str) -> Fields:
    """What `render` reads of `post` for `channel`, its variant applied."""
    return _fields_of(post, _variant(post, channel))


def render_fields(
    post: Post, channel: Channel, fields: Fields, labels: dict[str, str] | None = None
) -> Rendered:
    """`render(post, channel, measure=False)`, the fields read already (`channel_fields`)."""
    return _render(post, channel, fields, False, False, {} if labels is None else labels)


class Outline(NamedTuple):
    """What the length and hashtag rules ask of what a channel receives, worked out without
    rendering it (`outline`): the parts' limit, for each part a count its rendered text
    never exceeds (`counting.at_most`, the channel's counter; none when there is no limit),
    how many "#" its parts hold at most, its title and its tags."""

    limit: int | None
    lengths: tuple[int, ...]
    hashes: int
    title: str | None
    tags: list[str]


# The counters whose `counting.at_most` a link shown shortened (`shorten_links`: its scheme
# dropped, cut with "…") never makes larger: all but X's, where a link counts 23 whatever
# its length and the shortened one is no link.
_SHORTENED_FITS = frozenset({"graphemes", "chars", "utf16", "utf8", "threads", "mastodon"})


def outline(post: Post, channel: Channel, f: Fields) -> Outline | None:
    """The `Outline` of what `render_fields(post, channel, f)` gives, from the untagged
    texts of its parts (shared by the post's channels) and its links as tagged and shown:
    None when it cannot be bounded so (a thread split to fit, link parameters named with
    other characters than letters, digits, "_", "." and "-").

    Why each bound holds: tagging a link only adds "?", "&" and `key=value` pairs after
    it, all printable ASCII (values are percent-encoded), inside the link as found again
    unless it then ends with punctuation the URL pattern trims (`tag_links`'s "known"). A
    counter counts such a character at most one, and nothing within a link counted at a
    fixed length (X); no "#", no "://" and no new link is made. A link shown shortened
    (`shorten_links`) only shrinks (`_SHORTENED_FITS`), by exactly as many characters as
    it loses when it is where the tagging left it.

    A part that fits even if each of its links (each holds its own "://") grew by the most
    tagging adds to one (`_most_added`: a link that holds some keys already gets fewer) is
    bounded so, without working out each link's growth: most parts of a channel with room
    to spare. A channel without a length limit is given no lengths: none is compared."""
    plan = _plan(channel)
    if not plan.outlined or (plan.threads and f.thread == "auto"):
        return None
    texts, hashes = _kept(f.body, plan.markdown, plan.plain_threads)
    limit = plan.max_length
    caption = plan.max_caption_length
    if f.media and caption is not None:
        limit = min(limit or caption, caption)
    if limit is None:  # no length to keep under: none worked out
        return Outline(None, (), hashes, f.title, f.tags)
    width, counter, url_length = plan.width, plan.counter, plan.url_length
    templates, domains = plan.templates, plan.domains
    items: tuple[tuple[str, str], ...] | None = None
    most = 0  # the most tagging adds to one link
    if templates:
        params = _params(post, channel, f)
        items = tuple([(k, params.get(k, "")) for k in plan.fields])
        most = _most_added(templates, items)
    at_most = counting.at_most
    lengths: list[int] = []
    for text in texts:
        bound = at_most(counter, text, url_length)
        if (items is not None or width) and "://" in text:
            quick = bound + most * text.count("://")
            if quick <= limit:  # fits however much each link grows: not worked out
                lengths.append(quick)
                continue
            grown, shrunk, known = _links_grow(text, domains, templates, items, width)
            if counter == "x":
                # A link counts 23, however long: as X finds it in the text normalised to
                # NFC, where a combining mark against it may make it no link (each
                # character tagging adds then counts).
                fixed = known and unicodedata.is_normalized("NFC", text)
                bound += 0 if fixed else grown
            elif counter == "graphemes" and known:
                bound += grown - shrunk  # the length of the text as shown, exactly
            else:
                bound += grown
        lengths.append(bound)
    return Outline(limit, tuple(lengths), hashes, f.title, f.tags)


@lru_cache(maxsize=1024)
def _most_added(templates: tuple[tuple[str, str], ...], items: tuple[tuple[str, str], ...]) -> int:
    """The most tagging adds to one link (`tag_links`): "?" or "&", then every `key=value`
    pair joined with "&" (a link that holds some of the keys already gets fewer)."""
    added = _added(templates, items, frozenset())
    return 1 + len("&".join(added)) if added else 0


@lru_cache(maxsize=256)
def _kept(body: str, markdown: bool, plain_threads: bool) -> tuple[tuple[str, ...], int]:
    """The texts of the parts `_render` keeps (the empty ones left out, but one), before
    links are tagged, and the "#" they hold: the same for the channels of a post that
    take its text the same way."""
    texts = tuple([t for t in _texts_of(body, markdown, plain_threads) if t]) or ("",)
    return texts, sum(t.count("#") for t in texts)


def _links_grow(
    text: str,
    domains: tuple[str, ...],
    templates: tuple[tuple[str, str], ...],
    items: tuple[tuple[str, str], ...] | None,
    width: int | None,
) -> tuple[int, int, bool]:
    """For the links of `text`: the characters tagging them adds (as `tag_links` does with
    `items`, None: no tracking), those showing them shortened at `width` then removes
    (`shorten_links`), and whether every tagged link is still found where it was put."""
    grown = shrunk = 0
    known = True
    for _start, _end, url, cut in _cut_links(text, domains):
        tagged = url
        if cut is not None and items is not None:
            added = _added(templates, items, cut[3])
            if added:
                path, query, tail, _present = cut
                tagged = f"{path}?{'&'.join([query, *added] if query else added)}{tail}"
                known = known and not counting.ends_with_junk(tagged)
        grown += len(tagged) - len(url)
        if width:
            shown = len(tagged) - tagged.index("://") - 3
            shrunk += len(tagged) - min(shown, width)
    return grown, shrunk, known


# The link parameter names `outline` takes as what they add (other names: it gives None).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]+")


class Fields(NamedTuple):
    """What `render` reads of a post for one channel, its variant applied (`Post.field`)."""

    body: str  # `post.body_for(channel)`
    campaign: str
    thread: Any
    title: str | None
    tags: list[str]  # copied into each `Rendered`
    language: Any  # as written: the channel's own language when empty
    series: str | None
    media: list[Media]  # copied into each `Rendered`


def _variant(post: Post, name: str) -> dict[str, Any]:
    """The channel's variant, or `_NO_VARIANT` (`post.field(key, name)` looks it up so)."""
    variants = post.meta.get("variants")
    variant = variants.get(name) if isinstance(variants, dict) else None
    return variant if isinstance(variant, dict) else _NO_VARIANT


def _fields_of(post: Post, over: dict[str, Any]) -> Fields:
    """The fields for a channel whose variant is `over` (`_NO_VARIANT`: the post's own)."""
    meta = post.meta

    def field(key: str) -> Any:
        return over[key] if key in over else meta.get(key)

    body = field("body")
    campaign = field("campaign")
    title = field("title")
    tags = field("tags")
    series = field("series")
    media = field("media")
    return Fields(
        body=body if isinstance(body, str) else post.body,
        campaign=str(campaign) if campaign else "",
        thread=field("thread"),
        title=str(title) if title is not None else None,
        tags=[str(t) for t in tags] if isinstance(tags, list) else [],
        language=field("language"),
        series=str(series) if series else None,
        media=media_of(media) if media else [],
    )


class _Plan(NamedTuple):
    """What `_render` reads of a channel, read once per channel (`_plan`): its platform's
    capabilities and limits, its rules'. Every (post, channel) pair reads it."""

    markdown: bool  # sent as Markdown (else plain text, `_plain_parts`)
    plain_threads: bool  # plain text split at thread breaks
    threads: bool
    html: bool
    width: int | None  # links shown shortened to (`shorten_links`)
    counter: str
    url_length: int | None
    tracking: LinkTracking | None
    max_length: int | None
    max_caption_length: int | None
    # Links tagged: the tracked domains, the templates and the fields they use (`_templates`);
    # (): none tagged (no tracking, or no domain or parameter).
    domains: tuple[str, ...]
    templates: tuple[tuple[str, str], ...]
    fields: tuple[str, ...]
    outlined: bool  # whether `outline` can bound what the channel receives


# id(channel) -> (channel, its plan): the entry holds the channel (frozen), so no other
# object takes its id while it is there.
_PLANS: dict[int, tuple[Channel, _Plan]] = {}


def _plan(channel: Channel) -> _Plan:
    got = _PLANS.get(id(channel))
    if got is not None and got[0] is channel:
        return got[1]
    if len(_PLANS) >= 256:
        _PLANS.clear()
    spec, rules = channel.spec, channel.rules
    tracking = rules.link_tracking
    domains: tuple[str, ...] = ()
    templates: tuple[tuple[str, str], ...] = ()
    fields: tuple[str, ...] = ()
    if tracking is not None and tracking.domains and tracking.params:
        domains = tracking.domains
        templates, fields = _templates(tracking)
    width, counter = spec.shorten_links, spec.counter
    plan = _Plan(
        markdown=spec.can(Capability.MARKDOWN),
        plain_threads=spec.threads and not spec.html,
        threads=spec.threads,
        html=spec.html,
        width=width,
        counter=counter,
        url_length=spec.url_length,
        tracking=tracking,
        max_length=rules.max_length,
        max_caption_length=rules.max_caption_length,
        domains=domains,
        templates=templates,
        fields=fields,
        outlined=(not width or counter in _SHORTENED_FITS)
        and all(_PLAIN_KEY.fullmatch(key) for key, _ in templates),
    )
    _PLANS[id(channel)] = (channel, plan)
    return plan


_new_rendered = Rendered.__new__


def _render(
    post: Post, channel: Channel, f: Fields, html: bool, measure: bool, labels: dict[str, str]
) -> Rendered:
    plan = _plan(channel)
    name = channel.name
    body = f.body
    tracking = plan.tracking
    texts = _untagged(body, plan)
    params: dict[str, str] = {}
    if tracking is not None:
        params = _params(post, channel, f)
        texts = [tag_links(t, tracking, params) for t in texts]
    texts = [t for t in texts if t] or [""]
    media = list(f.media)
    limit = plan.max_length
    caption = plan.max_caption_length
    if media and caption is not None:
        limit = min(limit or caption, caption)
    url_length = plan.url_length
    width = plan.width
    if plan.threads and f.thread == "auto" and limit:
        texts = [p for t in texts for p in split_auto(t, limit, plan.counter, url_length, width)]
        texts = number_parts(texts) if len(texts) > 1 else texts
    parts: list[Part] = []
    if not measure:
        for i, text in enumerate(texts):
            shown = shorten_links(text, width)[0] if width else text
            parts.append(Part(shown, media if i == 0 else []))
    else:
        count = counting.COUNTERS[plan.counter]
        for i, text in enumerate(texts):
            shown, links = shorten_links(text, width) if width else (text, _links(text))
            parts.append(Part(shown, media if i == 0 else [], links, count(shown, url_length)))
    language = f.language or channel.language
    counter = plan.counter
    # `Rendered(...)` with every field given, without its generated `__init__` (a pair in
    # validation makes one): the same object.
    rendered = _new_rendered(Rendered)
    rendered.__dict__.update(
        post_id=post.id,
        channel=name,
        platform=channel.platform,
        parts=parts,
        title=f.title,
        html=None,
        tags=list(f.tags),
        language=str(language) if language else None,
        limit=limit,
        counter=labels.get(key := f"{counter}@{width}" if width else counter)
        or labels.setdefault(key, counting.counter_label(counter, width)),
        series=f.series,
        canonical_url=None,
        path=post.path,
    )
    if html and plan.html:
        source = tag_links(body, tracking, params) if tracking is not None else body
        rendered.html = markup.to_html(source)
    return rendered


def _untagged(body: str, plan: _Plan) -> list[str]:
    """The texts of the parts, before links are tagged (and shown shortened)."""
    return list(_texts_of(body, plan.markdown, plan.plain_threads))


def _texts_of(body: str, markdown: bool, plain_threads: bool) -> tuple[str, ...]:
    """`_untagged`, from the plan's two flags."""
    if markdown:
        return ("\n\n".join(markup.split_thread(body)).strip(),)
    return _plain_parts(body, plain_threads)


def _params(post: Post, channel: Channel, f: Fields) -> dict[str, str]:
    """What the link tracking templates may use."""
    return {
        "channel": channel.name,
        "platform": channel.platform,
        "campaign": f.campaign,
        "id": post.id,
    }


@lru_cache(maxsize=256)
def _plain_parts(body: str, threads: bool) -> tuple[str, ...]:
    """The body as plain text, split at thread breaks when the channel has threads.
    Cached: most channels of a post share its body."""
    if threads:
        chunks = markup.split_thread(body)
    else:
        # A body is stored with its last newline, and split_thread strips it: where that is
        # all it strips (no break, no other edge space), the two are the same Markdown, so
        # threaded and other channels of a post share one `_to_plain`.
        trimmed = body.rstrip("\n")
        keep = trimmed[:1].isspace() or trimmed[-1:].isspace() or "\r" in trimmed
        chunks = [body if keep or "<!--" in body else trimmed]
    return tuple(_to_plain(c) for c in chunks)


@lru_cache(maxsize=256)
def _to_plain(markdown: str) -> str:
    """Cached: a body without thread breaks is one chunk, with or without threads."""
    return markup.to_plain(markdown)


def _links(text: str) -> list[Link]:
    return [Link(s, e, u) for s, e, u in counting.find_urls(text)]


def tag_links(text: str, tracking: LinkTracking, params: dict[str, str]) -> str:
    """Add UTM parameters to links to the tracked domains (existing parameters win)."""
    if not tracking.domains or not tracking.params:
        return text
    found = _cut_links(text, tracking.domains)
    if not found:
        return text
    templates, fields = _templates(tracking)  # `_utm_key`, and `_tag` below, inline
    items = tuple([(k, params.get(k, "")) for k in fields])
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    known = True
    last = 0
    pos = 0
    for start, end, url, cut in found:
        out.append(text[last:start])
        tagged = url
        if cut is not None:
            path, query, tail, present = cut
            added = _added(templates, items, present)
            if added:
                tagged = f"{path}?{'&'.join([query, *added] if query else added)}{tail}"
        out.append(tagged)
        pos += start - last
        spans.append((pos, pos + len(tagged), tagged))
        pos += len(tagged)
        last = end
        # A tagged URL still ends where the URL pattern stops (its added characters are
        # URL characters), unless the last one is punctuation the pattern trims.
        known = known and (tagged == url or not counting.ends_with_junk(tagged))
    out.append(text[last:])
    result = "".join(out)
    if known:
        counting.known_urls(result, tuple(spans))
    return result


@lru_cache(maxsize=1024)
def _cut_links(
    text: str, domains: tuple[str, ...]
) -> tuple[tuple[int, int, str, _Cut | None], ...]:
    """The URLs of `text` (`counting.find_urls`), each with where parameters go (`_tracked`):
    cached, the channels of a post tag the same text, each with its own parameters."""
    return tuple([(s, e, url, _tracked(url, domains)) for s, e, url in counting.find_urls(text)])


def utm(url: str, tracking: LinkTracking, params: dict[str, str]) -> str:
    return _tag(url, _tracked(url, tracking.domains), *_utm_key(tracking, params))


def _utm_key(
    tracking: LinkTracking, params: dict[str, str]
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """The templates, and the parameters they use (by name, as `_fields` sorts them): what
    `_added` caches on."""
    templates, fields = _templates(tracking)
    return templates, tuple([(k, params.get(k, "")) for k in fields])


# id(tracking) -> (tracking, its templates, their fields): a channel's, worked out once. The
# entry holds the object, so no other object takes its id while it is there.
_TEMPLATES: dict[int, tuple[LinkTracking, tuple[tuple[str, str], ...], tuple[str, ...]]] = {}


def _templates(tracking: LinkTracking) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    got = _TEMPLATES.get(id(tracking))
    if got is None or got[0] is not tracking:
        if len(_TEMPLATES) >= 256:
            _TEMPLATES.clear()
        templates = tuple(tracking.params.items())
        got = _TEMPLATES[id(tracking)] = (tracking, templates, _fields(templates))
    return got[1], got[2]


@lru_cache(maxsize=64)
def _fields(templates: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The {names} the templates use: only they make one post's parameters differ."""
    names: set[str] = set()
    for _, template in templates:
        for _, field, _, _ in string.Formatter().parse(template):
            if field:  # `{campaign.upper}` looks `campaign` up
                names.add(field.split(".", 1)[0].split("[", 1)[0])
    return tuple(sorted(names))


_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)")

_Cut = tuple[str, str, str, frozenset[str]]


@lru_cache(maxsize=4096)
def _tracked(url: str, domains: tuple[str, ...]) -> _Cut | None:
    """`url` cut where parameters go (before the query, the query, from "#" on, the query's
    keys), or None when its host is not tracked. Cached apart from the parameters: a post's
    channels tag the same links, each with its own."""
    m = _HOST.match(url)
    host = m.group(1).lower() if m else ""
    if host not in domains and not host.endswith(_subdomains(domains)):
        return None
    base, hash_mark, fragment = url.partition("#")
    path, _, query = base.partition("?")
    present = frozenset([pair.split("=", 1)[0] for pair in query.split("&") if pair])
    return path, query, hash_mark + fragment, present


@lru_cache(maxsize=64)
def _subdomains(domains: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("." + d for d in domains)


def _tag(
    url: str,
    cut: _Cut | None,
    templates: tuple[tuple[str, str], ...],
    items: tuple[tuple[str, str], ...],
) -> str:
    if cut is None:
        return url
    path, query, tail, present = cut
    added = _added(templates, items, present)
    if not added:
        return url
    # The query as written stays untouched (re-encoding it could alter the URL); ours follow.
    return f"{path}?{'&'.join([query, *added] if query else added)}{tail}"


@lru_cache(maxsize=1024)
def _added(
    templates: tuple[tuple[str, str], ...],
    items: tuple[tuple[str, str], ...],
    present: frozenset[str],
) -> list[str]:
    """The `key=value` pairs to add: the same for every link of a channel and campaign."""
    params = dict(items)
    added = []
    for key, template in templates:
        value = template.format_map(_Default(params))
        if key not in present and value:
            added.append(f"{key}={quote_plus(value)}")
    return added


class _Default(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def shorten_links(text: str, width: int) -> tuple[str, list[Link]]:
    """Show long links shortened (scheme dropped, cut at `width` with …), as Bluesky clients do;
    the full URL stays in the returned links (Bluesky: a link facet)."""
    out: list[str] = []
    links: list[Link] = []
    last = 0
    pos = 0
    for start, end, url in counting.find_urls(text):
        out.append(text[last:start])
        pos += start - last
        shown = url.split("://", 1)[1]
        if len(shown) > width:
            shown = shown[: width - 1] + "…"
        out.append(shown)
        links.append(Link(pos, pos + len(shown), url))
        pos += len(shown)
        last = end
    out.append(text[last:])
    return "".join(out), links


def split_auto(
    text: str, limit: int, counter: str, url_length: int | None, shorten: int | None
) -> list[str]:
    """Split `text` into parts that fit `limit` once numbered (` 1/3`), at paragraph, then
    sentence, then word boundaries."""
    count = counting.COUNTERS[counter]

    def measure(t: str) -> int:
        return count(shorten_links(t, shorten)[0] if shorten else t, url_length)

    if measure(text) <= limit:
        return [text]
    n = 2
    for _ in range(5):
        room = limit - len(f" {n}/{n}")
        parts = _greedy(text, room, measure)
        if len(parts) <= n:
            return parts
        n = len(parts)
    return parts


def _greedy(text: str, room: int, measure: Callable[[str], int]) -> list[str]:
    # Pieces that each fit, with the separator that joined them to the previous piece.
    pieces: list[tuple[str, str]] = []
    for para in text.split("\n\n"):
        sep = "\n\n"
        sentences = [para] if measure(para) <= room else _SENTENCE_END.split(para)
        for sentence in sentences:
            if measure(sentence) <= room:
                pieces.append((sentence, sep))
                sep = " "
                continue
            cur = ""
            for word in sentence.split(" "):
                cand = f"{cur} {word}" if cur else word
                if measure(cand) <= room or not cur:
                    cur = cand
                else:
                    pieces.append((cur, sep))
                    sep = " "
                    cur = word
            if cur:
                pieces.append((cur, sep))
                sep = " "
    parts: list[str] = []
    cur = ""
    for piece, sep in pieces:
        cand = f"{cur}{sep}{piece}" if cur else piece
        if measure(cand) <= room:
            cur = cand
        else:
            if cur:
                parts.append(cur)
            cur = piece
    if cur:
        parts.append(cur)
    return parts


def number_parts(parts: list[str]) -> list[str]:
    n = len(parts)
    return [f"{p} {i}/{n}" for i, p in enumerate(parts, 1)]


def fingerprint(rendered: Rendered) -> str:
    """A hash of what the channel receives: recorded at publish time, compared later to spot
    posts edited after publishing."""
    # Not the HTML: it is derived from the same body, and validation renders no HTML.
    # Title and tags each end with NUL, parts with \x01, media as path \x02 alt \x03; one
    # string encoded once (UTF-8 of the whole is the UTF-8 of the pieces, one after another).
    pieces = [rendered.title or "", "\x00"]
    for tag in rendered.tags:
        pieces += (tag, "\x00")
    for part in rendered.parts:
        pieces += (part.text, "\x01")
        for m in part.media:
            pieces.append(f"{m.path}\x02{m.alt or ''}\x03")
    return hashlib.sha256("".join(pieces).encode("utf-8")).hexdigest()[:32]
