"""channel.*: what each network accepts (length counted its way, hashtags, media)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from cmflow import media as media_files
from cmflow import video as videos
from cmflow.config import Channel
from cmflow.i18n import _, number
from cmflow.model import Finding, Level, Mark
from cmflow.platforms.spec import Capability
from cmflow.rules.base import PostContext, Rule, body_mark
from cmflow.rules.text import hashtags


def _part_mark(ctx: PostContext, index: int) -> Mark:
    from cmflow import markup  # lazy: a cached `validate` never renders

    post, name = ctx.post, ctx.channel.name
    body = post.body_for(name)
    if index == 0 or not ctx.channel.spec.threads:
        stripped = len(body) - len(body.lstrip())
        return body_mark(post, name, stripped)
    seen = 0
    pos = 0
    for line in body.splitlines(keepends=True):
        pos += len(line)
        if markup.THREAD_BREAK.match(line.rstrip("\n")):
            seen += 1
            if seen == index:
                rest = body[pos:]
                return body_mark(post, name, pos + len(rest) - len(rest.lstrip()))
    return body_mark(post, name, 0)


# The per-post checks return lists, not generators: they run on every (post, channel) and
# mostly find nothing, which a list says for less.


_COMMENTS = re.compile(r"<!--.*?-->", re.S)  # never sent (thread breaks, notes to reviewers)


def empty(ctx: PostContext) -> list[Finding]:
    """Nothing to send: no text (blank, or comments only) and no media, on a channel whose
    posts have no title of their own (the networks refuse such a post)."""
    name = ctx.channel.name
    body = ctx.post.body_for(name)
    if body.strip() and ("<!--" not in body or _COMMENTS.sub("", body).strip()):
        return []
    if ctx.channel.spec.titles:  # a title alone is a post there
        return []
    if ctx.media:
        return []
    return [
        ctx.finding(
            "channel.empty",
            body_mark(ctx.post, name, 0),
            _("nothing to send: the post has no text (and no media): write it"),
        )
    ]


def max_length(ctx: PostContext) -> list[Finding]:
    import cmflow.counting as counting  # lazy (the `regex` module costs start-up time); the
    # plain form: `from cmflow import` costs a Python call at each run

    out: list[Finding] = []
    sketch = ctx.outline
    if sketch is not None and (
        sketch.limit is None or all(bound <= sketch.limit for bound in sketch.lengths)
    ):
        # Every part fits, shown without rendering the channel's text: the title is left.
        return _title_length(ctx, sketch.title, out)
    r = ctx.rendered
    n = len(r.parts)
    if r.limit is not None:
        spec = ctx.channel.spec
        for i, part in enumerate(r.parts):
            # Counted here, not read from `part.length`: validation renders without measures,
            # and most parts are shown to fit without being counted in full.
            length = counting.exceeding(spec.counter, part.text, spec.url_length, r.limit)
            if length is not None:
                words = [f"{length}/{r.limit} {r.counter}"]
                if n > 1:
                    words.insert(0, _("part {index}/{count}").format(index=i + 1, count=n))
                if part.media and r.limit == ctx.channel.rules.max_caption_length:
                    words.append(_("(caption with media)"))
                example = f"`variants: {{{ctx.channel.name}: {{body: ...}}}}`"
                hint = (
                    _(
                        "shorten it, set `thread: auto` (numbered parts that fit), split it "
                        "with a `<!-- thread -->` line, or write a shorter {example}"
                    )
                    if ctx.channel.spec.threads
                    else _("shorten it or write a shorter {example} (this platform has no threads)")
                ).format(example=example)
                out.append(
                    ctx.finding(
                        "channel.max-length",
                        _part_mark(ctx, i),
                        f"{' '.join(words)} — {hint}",
                    )
                )
    return _title_length(ctx, r.title, out)


def _title_length(ctx: PostContext, title: str | None, out: list[Finding]) -> list[Finding]:
    """`out`, and a finding when the channel's title (`title`) is longer than it takes."""
    limit = ctx.channel.rules.max_title_length
    if limit is not None and title is not None and len(title) > limit:
        out.append(
            ctx.finding(
                "channel.max-length",
                ctx.post.field_mark("title", ctx.channel.name),
                _("title is {length}/{limit} characters").format(length=len(title), limit=limit),
            )
        )
    return out


def max_hashtags(ctx: PostContext) -> list[Finding]:
    out: list[Finding] = []
    rules = ctx.channel.rules
    limit = rules.max_hashtags
    # Each hashtag takes a "#": with no more "#" than the limit, there are not too many
    # hashtags, and they need not be found (URLs looked for, the text scanned).
    sketch = ctx.outline
    if sketch is not None and (limit is None or sketch.hashes <= limit):
        marks = sketch.hashes  # at most: the channel's text need not be rendered
    else:
        parts = ctx.rendered.parts
        marks = (
            parts[0].text.count("#") if len(parts) == 1 else sum(p.text.count("#") for p in parts)
        )
    if limit is not None and marks > limit:
        found = [t for part in ctx.rendered.parts for t in hashtags(part.text)]
        if len(found) > limit:
            out.append(
                ctx.finding(
                    "channel.max-hashtags",
                    _part_mark(ctx, 0),
                    _("{count} hashtags, at most {limit} ({hashtags})").format(
                        count=len(found), limit=limit, hashtags=" ".join(found)
                    ),
                )
            )
    tags = sketch.tags if sketch is not None else ctx.rendered.tags
    if rules.max_tags is not None and len(tags) > rules.max_tags:
        out.append(
            ctx.finding(
                "channel.max-hashtags",
                ctx.post.field_mark("tags", ctx.channel.name),
                _("{count} tags, {platform} takes at most {limit}").format(
                    count=len(tags),
                    platform=ctx.channel.spec.label,
                    limit=rules.max_tags,
                ),
            )
        )
    return out


def _media_key(ctx: PostContext, i: int) -> Mark:
    name = ctx.channel.name
    if ("variants", name, "media", i) in ctx.post.marks:
        return ctx.post.marks[("variants", name, "media", i)]
    return ctx.post.mark("media", i)


def media_missing(ctx: PostContext) -> list[Finding]:
    out: list[Finding] = []
    for i, m in enumerate(ctx.media):
        info = ctx.inspect(m.path)
        if info.problem:
            out.append(
                ctx.finding("channel.media-missing", _media_key(ctx, i), f"{m.path} {info.problem}")
            )
    return out


def media_alt(ctx: PostContext) -> list[Finding]:
    out: list[Finding] = []
    rules, spec = ctx.channel.rules, ctx.channel.spec
    for i, m in enumerate(ctx.media):
        if rules.require_alt_text and not (m.alt or "").strip():
            out.append(
                ctx.finding(
                    "channel.media-alt",
                    _media_key(ctx, i),
                    _(
                        "{path} has no alt text: add `alt:` describing the image for people "
                        "who use a screen reader"
                    ).format(path=m.path),
                )
            )
        elif m.alt and spec.max_alt_length and len(m.alt) > spec.max_alt_length:
            out.append(
                ctx.finding(
                    "channel.media-alt",
                    _media_key(ctx, i),
                    _("{path}: alt text is {length}/{limit} characters on {platform}").format(
                        path=m.path,
                        length=len(m.alt),
                        limit=spec.max_alt_length,
                        platform=spec.label,
                    ),
                )
            )
    return out


def media_count(ctx: PostContext) -> list[Finding]:
    limit = ctx.channel.rules.max_media
    items = ctx.media
    if limit is None or len(items) <= limit:
        return []
    return [
        ctx.finding(
            "channel.media-count",
            _media_key(ctx, limit),
            _("{count} media, {platform} takes at most {limit}").format(
                count=len(items), platform=ctx.channel.spec.label, limit=limit
            ),
        )
    ]


def media_required(ctx: PostContext) -> list[Finding]:
    if not ctx.channel.rules.require_media or ctx.media:
        return []
    return [
        ctx.finding(
            "channel.media-required",
            ctx.post.mark("channels"),
            _("{platform} needs an image or a video: add `media:` (or a variant)").format(
                platform=ctx.channel.spec.label
            ),
        )
    ]


def _fetches_media(channel: Channel) -> bool:
    """Whether channel.media-url can fire on `channel` (see `media_url`)."""
    return channel.spec.can(Capability.PUBLIC_MEDIA) and not channel.setting("media_base_url")


def media_url(ctx: PostContext) -> list[Finding]:
    """A platform that fetches images from public URLs (Instagram, Threads) needs one: the
    channel's `media_base_url`, or the copy a site channel (with `site_url`) publishes of a
    post it also receives."""
    channel = ctx.channel
    if not ctx.media or not _fetches_media(channel):
        return []
    for name in ctx.post.channels:
        other = ctx.config.channels.get(name)
        if other and other.spec.can(Capability.WRITES_FILES) and other.setting("site_url"):
            return []
    return [
        ctx.finding(
            "channel.media-url",
            _media_key(ctx, 0),
            _(
                "{platform} fetches images from a public URL and channel {channel} has none: "
                "set its `media_base_url` (where the repository's media/ folder is served), "
                "or send this post to a feed channel with `site_url` too (its copy is used)"
            ).format(platform=channel.spec.label, channel=repr(channel.name)),
        )
    ]


def media_format(ctx: PostContext) -> Iterator[Finding]:
    rules, label = ctx.channel.rules, ctx.channel.spec.label
    for i, m in enumerate(ctx.media):
        info = ctx.inspect(m.path)
        if info.problem:
            continue
        if info.mime is None:
            yield ctx.finding(
                "channel.media-format", _media_key(ctx, i), f"{m.path} {media_files.unrecognised()}"
            )
            continue
        if info.mime == media_files.SVG and ctx.channel.spec.can(Capability.WRITES_FILES):
            # Whatever `media_types` says: the site serves the file as is, and a browser
            # opening an SVG runs the scripts it holds, on the brand's own site.
            yield ctx.finding(
                "channel.media-format",
                _media_key(ctx, i),
                _(
                    "{path} is an SVG image, which can carry scripts that would run on the "
                    "site: export it as PNG, JPEG or WebP"
                ).format(path=m.path),
            )
        elif rules.media_types and info.mime not in rules.media_types:
            accepted = ", ".join(rules.media_types)
            yield ctx.finding(
                "channel.media-format",
                _media_key(ctx, i),
                _("{path} is {type}; {platform} accepts {accepted}").format(
                    path=m.path, type=info.mime, platform=label, accepted=accepted
                ),
            )
            continue
        is_video = info.mime.startswith("video/")
        limit = rules.max_media_bytes
        if is_video and rules.max_video_bytes is not None:
            limit = rules.max_video_bytes
        if limit is not None and info.size > limit:
            yield ctx.finding(
                "channel.media-format",
                _media_key(ctx, i),
                (
                    _("{path} is {size} bytes; {platform} takes at most {limit} for a video")
                    if is_video
                    else _("{path} is {size} bytes; {platform} takes at most {limit}")
                ).format(path=m.path, size=number(info.size), platform=label, limit=number(limit)),
            )
        if is_video:
            for level, message in video_problems(ctx, info):
                yield ctx.finding(
                    "channel.media-format", _media_key(ctx, i), f"{m.path} {message}", level
                )


def video_problems(ctx: PostContext, info: media_files.MediaFile) -> Iterator[tuple[Level, str]]:
    """What the channel refuses in a video (errors), each with the value found and the
    limit, and what it advises (warnings)."""
    rules, label = ctx.channel.rules, ctx.channel.spec.label
    if info.video_problem is not None:
        yield "error", info.video_problem
        return
    v = info.video
    if v is None:
        return
    seconds = v.duration
    low, high = rules.min_video_seconds, rules.max_video_seconds
    if (low is not None or high is not None) and seconds is None:
        yield (
            "error",
            _("does not say how long it lasts (its `mvhd` box has no duration): export it again"),
        )
    elif seconds is not None and (
        (low is not None and seconds < low) or (high is not None and seconds > high)
    ):
        shown = videos.duration_text
        if low is not None and high is not None:
            text = _("lasts {duration}; {platform} takes videos from {low} to {high}")
        elif low is not None:
            text = _("lasts {duration}; {platform} takes videos at least {low}")
        else:
            text = _("lasts {duration}; {platform} takes videos at most {high}")
        yield (
            "error",
            text.format(
                duration=shown(seconds),
                platform=label,
                low=shown(low or 0),
                high=shown(high or 0),
            ),
        )
    if rules.video_codecs and v.video_codec is not None and v.video_codec not in rules.video_codecs:
        yield (
            "error",
            _(
                "is encoded in {codec} ({fourcc}); {platform} takes {codecs}: "
                "export it again as H.264 (MP4)"
            ).format(
                codec=v.video_codec,
                fourcc=v.video_codecs[0].strip(),
                platform=label,
                codecs=", ".join(rules.video_codecs),
            ),
        )
    if v.video_codec is None:
        yield "error", _("has no video track: export it again as a video (MP4, H.264)")
        return
    if v.width is None or v.height is None:
        if rules.video_orientation or rules.min_video_side or rules.max_video_side:
            yield (
                "error",
                _("does not say its picture size (its `tkhd` box has none): export it again"),
            )
        return
    size = f"{v.width}x{v.height} ({v.aspect}, {videos.orientation_text(v.orientation)})"
    wanted = {
        "vertical": ("vertical",),
        "vertical_or_square": ("vertical", "square"),
        "horizontal": ("horizontal",),
    }.get(rules.video_orientation or "any")
    if wanted is not None and v.orientation not in wanted:
        if wanted == ("vertical",):
            text = _("is {size}; {platform} takes vertical videos (e.g. 1080x1920, 9:16)")
        elif "vertical" in wanted:
            text = _("is {size}; {platform} takes vertical or square videos (e.g. 1080x1920, 9:16)")
        else:
            text = _("is {size}; {platform} takes horizontal videos")
        yield "error", text.format(size=size, platform=label)
    sides = (v.width, v.height)
    if rules.min_video_side is not None and min(sides) < rules.min_video_side:
        yield (
            "error",
            _("is {size}; {platform} takes at least {pixels} pixels a side").format(
                size=size, platform=label, pixels=rules.min_video_side
            ),
        )
    if rules.max_video_side is not None and max(sides) > rules.max_video_side:
        yield (
            "error",
            _("is {size}; {platform} takes at most {pixels} pixels a side").format(
                size=size, platform=label, pixels=rules.max_video_side
            ),
        )
    target = videos.parse_aspect(rules.video_aspect) if rules.video_aspect else None
    ratio = v.ratio
    if target is not None and ratio is not None and abs(ratio - target) > 0.02 * target:
        yield (
            "warning",
            _("is recommended at {aspect} on {platform}: it is {size}").format(
                aspect=rules.video_aspect, platform=label, size=size
            ),
        )


RULES = (
    Rule(
        "channel.empty",
        "error",
        lambda: _("nothing to send: no text and no media, where a post has no title"),
        post=empty,
        applies=lambda c: not c.spec.titles,
        same_on=lambda c: 0,
    ),
    Rule(
        "channel.max-length",
        "error",
        lambda: _("rendered text longer than the channel allows, counted the platform's way"),
        post=max_length,
    ),
    Rule(
        "channel.max-hashtags",
        "error",
        lambda: _("more hashtags (or tags) than allowed"),
        post=max_hashtags,
        applies=lambda c: c.rules.max_hashtags is not None or c.rules.max_tags is not None,
    ),
    Rule(
        "channel.media-missing",
        "error",
        lambda: _("a media path that does not exist or leaves the repository"),
        post=media_missing,
        media_only=True,
    ),
    Rule(
        "channel.media-alt",
        "error",
        lambda: _("media without alt text where alt text is required (or alt text too long)"),
        post=media_alt,
        media_only=True,
        applies=lambda c: c.rules.require_alt_text or bool(c.spec.max_alt_length),
    ),
    Rule(
        "channel.media-count",
        "error",
        lambda: _("more media than the platform takes"),
        post=media_count,
        applies=lambda c: c.rules.max_media is not None,
    ),
    Rule(
        "channel.media-required",
        "error",
        lambda: _("the channel needs media (Instagram) and the post has none"),
        post=media_required,
        applies=lambda c: c.rules.require_media,
    ),
    Rule(
        "channel.media-url",
        "error",
        lambda: _(
            "images for a platform that fetches them by URL (Instagram, Threads) with no public URL"
        ),
        post=media_url,
        media_only=True,
        applies=_fetches_media,
    ),
    Rule(
        "channel.media-format",
        "error",
        lambda: _("media type, size, or video length, codec or shape the platform refuses"),
        post=media_format,
        media_only=True,
    ),
)
