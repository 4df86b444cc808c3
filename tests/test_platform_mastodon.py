"""The Mastodon adapter against FakeMastodon over real loopback HTTP.

What a user relies on: the statuses the server receives (text, order, reply chain, media and
alt text, language, visibility), exactly one status per part under faults (the fake's
`created` count), the outcome sorted correctly, and no token in any reason.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from cmflow import config as cfg
from cmflow.content import parse_post
from cmflow.errors import MissingSecret
from cmflow.http import Http
from cmflow.model import Media, Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Result
from cmflow.platforms.mastodon import Adapter, idempotency_key, normalise, plain_text
from cmflow.render import render
from tests.fakes import FakeMastodon, Fault

TOKEN = "mastodon-secret-token-4f9a"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
STATUSES = r"^/api/v1/statuses$"
CLAIM_KEY = "post-1|m|0"


class Crash(Exception):
    """Stands for the process being killed between two parts."""


@dataclass
class MemoryProgress:
    """The publisher's side of one attempt, in memory, with hooks to inject faults."""

    handles: dict[str, Any]
    done: list[PartResult]
    started_at: datetime | None = None
    on_start: Callable[[int], None] | None = None
    on_done: Callable[[int], None] | None = None

    def __post_init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def part_started(self, index: int) -> None:
        assert index == len(self.done), "a part must start right after the last one done"
        self.events.append(("started", index))
        self.started_at = datetime.now(UTC)
        if self.on_start is not None:
            self.on_start(index)

    def part_done(self, index: int, result: PartResult) -> None:
        assert index == len(self.done)
        self.events.append(("done", index))
        self.done.append(result)
        self.started_at = None
        if self.on_done is not None:
            self.on_done(index)


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon(token=TOKEN) as server:
        yield server
        assert not server.errors  # an exception inside the fake is a bug in the fake


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=1.0) as client:
        yield client


def write_config(root: Path, base_url: str, **settings: str) -> cfg.Config:
    extra = "".join(f"\n    {k}: {v}" for k, v in settings.items())
    (root / "channels.yaml").write_text(
        "timezone: Europe/Paris\n"
        "channels:\n"
        "  m:\n"
        "    platform: mastodon\n"
        f"    base_url: {base_url}\n"
        f"    token_env: CMFLOW_TEST_TOKEN{extra}\n",
        encoding="utf-8",
    )
    return cfg.load(root)


def make_adapter(
    root: Path, fake: FakeMastodon, http: Http, token: str = TOKEN, **settings: str
) -> Adapter:
    config = write_config(root, fake.url, **settings)
    return Adapter(Context(config.channels["m"], root, http, {"token_env": token}))


def add_image(root: Path, rel: str = "media/photo.png") -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PNG)
    return rel


def rendered_of(*texts: str, media: list[Media] | None = None, language: str = "fr") -> Rendered:
    parts = [Part(t, list(media or []) if i == 0 else []) for i, t in enumerate(texts)]
    return Rendered("post-1", "m", "mastodon", parts, language=language)


def progress_for(adapter: Adapter, rendered: Rendered, **kwargs: Any) -> MemoryProgress:
    return MemoryProgress(dict(adapter.prepare(rendered, CLAIM_KEY)), [], **kwargs)


def status_posts(fake: FakeMastodon) -> list[Any]:
    return fake.requests_to("POST", STATUSES)


def assert_no_secret(result: Result) -> None:
    dumped = repr(result) + json.dumps([vars(p) for p in result.parts])
    for form in (TOKEN, quote(TOKEN, safe="")):
        assert form not in dumped


THREAD = (
    "Premier message du fil #Test",
    "Deuxième message : https://example.org/guide?a=1&b=2 #Suite",
    "Troisième et dernier",
)


# -- publishing -------------------------------------------------------------------------------


def test_thread_with_image_and_alt_from_a_post(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    config = write_config(tmp_path, fake.url)
    add_image(tmp_path)
    raw = (
        "---\n"
        "date: 2026-11-20 10:00\n"
        "channels: [m]\n"
        "language: fr\n"
        "media:\n"
        "  - path: media/photo.png\n"
        "    alt: Affiche de l'atelier, fond bleu\n"
        "---\n"
        "Premier message avec l'affiche.\n\n<!-- thread -->\n\n"
        "Deuxième message.\n\n<!-- thread -->\n\nTroisième message.\n"
    ).encode()
    post = parse_post("content/p.md", raw, config.timezone, config.channels)
    rendered = render(post, config.channels["m"])
    assert len(rendered.parts) == 3
    adapter = Adapter(Context(config.channels["m"], tmp_path, http, {"token_env": TOKEN}))
    progress = progress_for(adapter, rendered)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 3
    posted = fake.posts
    assert [p.id for p in result.parts] == [p["id"] for p in posted]
    assert [p.url for p in result.parts] == [p["url"] for p in posted]
    reqs = status_posts(fake)
    assert [r.json["status"] for r in reqs] == [p.text for p in rendered.parts]
    # The chain: part 1 is no reply, each later part replies to the previous one.
    assert "in_reply_to_id" not in reqs[0].json
    assert reqs[1].json["in_reply_to_id"] == posted[0]["id"]
    assert reqs[2].json["in_reply_to_id"] == posted[1]["id"]
    assert [r.json["language"] for r in reqs] == ["fr"] * 3
    assert [r.json["visibility"] for r in reqs] == ["public"] * 3
    assert [r.headers["authorization"] for r in reqs] == [f"Bearer {TOKEN}"] * 3
    assert [r.headers["idempotency-key"] for r in reqs] == progress.handles["idempotency_keys"]
    # The image, with its alt text, went with part 1 only, uploaded once.
    (upload,) = fake.requests_to("POST", r"^/api/v2/media$")
    assert upload.files["file"].data == PNG
    assert upload.form["description"] == "Affiche de l'atelier, fond bleu"
    assert reqs[0].json["media_ids"] == [json.loads(upload.response_body or b"")["id"]]
    assert [a["description"] for a in posted[0]["media_attachments"]] == [
        "Affiche de l'atelier, fond bleu"
    ]
    assert "media_ids" not in reqs[1].json and "media_ids" not in reqs[2].json
    # Each part is recorded before the next one is sent.
    assert progress.events == [
        ("started", 0),
        ("done", 0),
        ("started", 1),
        ("done", 1),
        ("started", 2),
        ("done", 2),
    ]


def test_prepare_gives_one_stable_key_per_part(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of(*THREAD)
    handles = adapter.prepare(rendered, CLAIM_KEY)
    keys = handles["idempotency_keys"]
    assert len(keys) == 3 and len(set(keys)) == 3
    assert adapter.prepare(rendered, CLAIM_KEY) == handles  # deterministic
    assert keys[0] == idempotency_key(CLAIM_KEY, 0)
    assert adapter.prepare(rendered, "post-1|m|1")["idempotency_keys"][0] != keys[0]
    assert fake.requests == []  # chosen before any call


def test_visibility_setting_is_sent(tmp_path: Path, fake: FakeMastodon, http: Http) -> None:
    adapter = make_adapter(tmp_path, fake, http, visibility="unlisted")
    rendered = rendered_of("Juste pour les abonnés", language="en")
    result = adapter.publish(rendered, progress_for(adapter, rendered))
    assert result.outcome == Outcome.PUBLISHED
    assert fake.posts[0]["visibility"] == "unlisted"
    assert fake.posts[0]["language"] == "en"


def test_media_processed_asynchronously_is_awaited(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    fake.media_processing = True
    fake.media_processing_polls = 1
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of("Une vidéo", media=[Media(add_image(tmp_path), "Une affiche")])

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.PUBLISHED, result.reason
    upload = fake.requests_to("POST", r"^/api/v2/media$")[0]
    assert upload.status == 202
    polls = fake.requests_to("GET", r"^/api/v1/media/")
    assert [p.status for p in polls] == [206, 200]
    attachment = fake.posts[0]["media_attachments"][0]
    assert attachment["url"] is not None and attachment["description"] == "Une affiche"


def test_media_still_processing_after_the_wait_is_retried_later(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    fake.media_processing = True
    fake.media_processing_polls = 1000
    adapter = make_adapter(tmp_path, fake, http)
    adapter.media_wait = 0.6
    rendered = rendered_of("Une vidéo", media=[Media(add_image(tmp_path), "alt")])
    progress = progress_for(adapter, rendered)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.RETRY
    assert "still processing" in (result.reason or "")
    assert fake.created == 0 and status_posts(fake) == []
    assert progress.events == []  # no status was started


def test_missing_media_file_fails_before_sending(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of("Avec image", media=[Media("media/absent.png", "alt")])
    result = adapter.publish(rendered, progress_for(adapter, rendered))
    assert result.outcome == Outcome.FAILED
    assert "media/absent.png" in (result.reason or "")
    assert fake.requests == []


def test_text_too_long_on_part_2_fails_with_the_server_reason(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    fake.max_characters = 40
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of("Court", "x" * 41, "Jamais envoyé")
    progress = progress_for(adapter, rendered)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.FAILED
    assert not result.needs_reauth
    assert "part 2 of 3" in (result.reason or "")
    assert "Text character limit of 40 exceeded" in (result.reason or "")
    assert fake.created == 1
    assert [p.id for p in result.parts] == [fake.posts[0]["id"]]  # the part done so far
    assert len(status_posts(fake)) == 2  # a definite refusal is not resent


@pytest.mark.parametrize("how", ["revoked token", "injected 403"])
def test_refused_credential_needs_reauth_without_leaking_it(
    tmp_path: Path, fake: FakeMastodon, http: Http, how: str
) -> None:
    fake.echo_secrets = True  # error bodies carry the Authorization header
    if how == "revoked token":
        fake.tokens.clear()
        fake.tokens.add("another-token")
    else:
        fake.inject("POST", STATUSES, Fault.status(403))
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of("Bonjour")

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.FAILED
    assert result.needs_reauth
    assert "HTTP 40" in (result.reason or "")
    assert TOKEN in (status_posts(fake)[0].response_body or b"").decode()  # it was echoed
    assert_no_secret(result)
    assert fake.created == 0


def test_rate_limited_is_retried_later_with_the_reset_time(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    fake.inject("POST", STATUSES, fake.rate_limited_fault(reset_in=300))
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of("Bonjour")

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.RETRY
    assert result.retry_after is not None and 290 <= result.retry_after <= 301
    assert fake.created == 0
    assert len(status_posts(fake)) == 1  # no request before the reset


def test_unreachable_server_is_retried_later(tmp_path: Path, http: Http) -> None:
    with FakeMastodon(token=TOKEN) as gone:
        url = gone.url
    config = write_config(tmp_path, url)
    adapter = Adapter(Context(config.channels["m"], tmp_path, http, {"token_env": TOKEN}))
    rendered = rendered_of("Bonjour")
    result = adapter.publish(rendered, progress_for(adapter, rendered))
    assert result.outcome == Outcome.RETRY
    assert_no_secret(result)


def test_missing_token_raises_missing_secret(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    config = write_config(tmp_path, fake.url)
    with pytest.raises(MissingSecret) as info:
        Adapter(Context(config.channels["m"], tmp_path, http, {}))
    assert info.value.variable == "CMFLOW_TEST_TOKEN"


# -- exactly once under faults ----------------------------------------------------------------


def inject_on_part(fake: FakeMastodon, part: int, fault: Fault, times: int | None) -> Any:
    """A part_started hook arming `fault` for part `part`'s status POSTs only."""

    def hook(index: int) -> None:
        if index == part:
            fake.inject("POST", STATUSES, fault, times=times)

    return hook


def test_500_after_commit_is_resent_with_the_same_key_and_creates_once(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of(*THREAD)
    progress = progress_for(adapter, rendered)
    progress.on_start = inject_on_part(fake, 1, Fault.after_commit_status(500), times=1)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 3  # exactly one status per part
    reqs = status_posts(fake)
    assert [r.status for r in reqs] == [200, 500, 200, 200]
    assert reqs[1].headers["idempotency-key"] == reqs[2].headers["idempotency-key"]
    assert [p.id for p in result.parts] == [p["id"] for p in fake.posts]
    assert reqs[3].json["in_reply_to_id"] == fake.posts[1]["id"]


def test_timeout_after_commit_is_resent_with_the_same_key(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of(*THREAD)
    progress = progress_for(adapter, rendered)
    progress.on_start = inject_on_part(fake, 1, Fault.stall_after_commit(2.0), times=1)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 3
    assert [p.id for p in result.parts] == [p["id"] for p in fake.posts]


def test_two_dropped_answers_are_absorbed_by_key_protected_retries(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of(*THREAD)
    progress = progress_for(adapter, rendered)
    progress.on_start = inject_on_part(fake, 1, Fault.drop_after_commit(), times=2)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 3
    part2 = [r for r in status_posts(fake) if r.json["status"] == THREAD[1]]
    assert len(part2) == 3 and len({r.headers["idempotency-key"] for r in part2}) == 1


def publish_until_unknown(
    adapter: Adapter, fake: FakeMastodon, fault: Fault, rendered: Rendered | None = None
) -> tuple[Rendered, MemoryProgress, Result]:
    """Publish THREAD with every answer to part 2 lost: the outcome is unknown."""
    rendered = rendered or rendered_of(*THREAD)
    progress = progress_for(adapter, rendered)
    progress.on_start = inject_on_part(fake, 1, fault, times=None)
    result = adapter.publish(rendered, progress)
    assert result.outcome == Outcome.UNKNOWN, result.reason
    fake.clear_faults()
    progress.on_start = None
    return rendered, progress, result


def test_answers_lost_for_good_give_unknown_then_reconcile_within_the_hour(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    fake.echo_secrets = True
    adapter = make_adapter(tmp_path, fake, http)
    rendered, progress, result = publish_until_unknown(adapter, fake, Fault.drop_after_commit())
    assert fake.created == 2  # part 1, and part 2 once despite every resend
    assert [p.id for p in result.parts] == [fake.posts[0]["id"]]
    assert_no_secret(result)
    part2 = [r for r in status_posts(fake) if r.json["status"] == THREAD[1]]
    assert len({r.headers["idempotency-key"] for r in part2}) == 1
    assert progress.started_at is not None  # part 2 is in flight

    found = adapter.reconcile(rendered, progress)

    assert found.outcome == Outcome.PUBLISHED, found.reason
    assert [p.id for p in found.parts] == [fake.posts[1]["id"]]
    assert fake.created == 2  # the server replayed the stored status
    # The publisher records it, then goes on with part 3, replying to part 2.
    progress.part_done(1, found.parts[0])
    final = adapter.publish(rendered, progress)
    assert final.outcome == Outcome.PUBLISHED
    assert fake.created == 3
    assert status_posts(fake)[-1].json["in_reply_to_id"] == fake.posts[1]["id"]
    assert [p.id for p in final.parts] == [p["id"] for p in fake.posts]


def test_persistent_500_gives_unknown_without_leaking_the_token(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    fake.echo_secrets = True
    adapter = make_adapter(tmp_path, fake, http)
    _, _, result = publish_until_unknown(adapter, fake, Fault.after_commit_status(500))
    assert fake.created == 2
    assert "HTTP 500" in (result.reason or "")
    assert_no_secret(result)


def test_reconcile_after_the_hour_finds_the_status_in_the_account(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    rendered, progress, _ = publish_until_unknown(adapter, fake, Fault.drop_after_commit())
    landed = fake.posts[1]
    # A later status with the same text that is not the thread's reply must not be taken.
    decoy = http.request(
        "POST",
        f"{fake.url}/api/v1/statuses",
        json={"status": THREAD[1]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert decoy.status_code == 200
    fake.clock_offset += 3700  # the key has expired on the server
    progress.started_at = datetime.now(UTC) - timedelta(hours=2)
    posts_before = len(status_posts(fake))

    found = adapter.reconcile(rendered, progress)

    assert found.outcome == Outcome.PUBLISHED, found.reason
    assert [(p.id, p.url) for p in found.parts] == [(landed["id"], landed["url"])]
    assert len(status_posts(fake)) == posts_before  # nothing was resent
    assert fake.created == 3  # parts 1, 2 and the decoy: no new status
    assert fake.requests_to("GET", r"^/api/v1/accounts/verify_credentials$")
    listing = fake.requests_to("GET", r"^/api/v1/accounts/1/statuses$")
    assert listing and listing[0].query["limit"] == "40"


def test_reconcile_after_the_hour_when_it_never_landed_is_absent(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    rendered, progress, _ = publish_until_unknown(adapter, fake, Fault.drop_before())
    assert fake.created == 1  # part 2 never reached the server's logic
    progress.started_at = datetime.now(UTC) - timedelta(hours=2)

    result = adapter.reconcile(rendered, progress)

    assert result.outcome == Outcome.ABSENT, result.reason
    assert fake.created == 1


def test_reconcile_absent_when_the_list_reaches_back_before_the_start(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    fake.clock_offset = -3 * 3600  # an older status, created three hours ago
    old = http.request(
        "POST",
        f"{fake.url}/api/v1/statuses",
        json={"status": "Bonjour"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert old.status_code == 200
    fake.clock_offset = 0
    rendered = rendered_of("Bonjour")
    progress = progress_for(adapter, rendered, started_at=datetime.now(UTC) - timedelta(hours=2))

    result = adapter.reconcile(rendered, progress)

    assert result.outcome == Outcome.ABSENT, result.reason
    assert fake.created == 1


def test_reconcile_unknown_when_the_list_does_not_reach_back(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    adapter.lookup_pages = 1
    for i in range(41):  # one page (40) of newer, unrelated statuses, and more
        response = http.request(
            "POST",
            f"{fake.url}/api/v1/statuses",
            json={"status": f"Autre {i}"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 200
    rendered = rendered_of("Bonjour")
    progress = progress_for(adapter, rendered, started_at=datetime.now(UTC) - timedelta(hours=2))

    result = adapter.reconcile(rendered, progress)

    assert result.outcome == Outcome.UNKNOWN
    assert "check by hand" in (result.reason or "")


def test_reconcile_within_the_hour_sends_a_part_that_never_landed_once_with_its_image(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of("Avec l'affiche", media=[Media(add_image(tmp_path), "L'affiche")])
    progress = progress_for(adapter, rendered)
    progress.on_start = lambda i: fake.inject("POST", STATUSES, Fault.drop_before(), times=None)
    assert adapter.publish(rendered, progress).outcome == Outcome.UNKNOWN
    fake.clear_faults()
    assert fake.created == 0

    result = adapter.reconcile(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1
    assert [p.id for p in result.parts] == [fake.posts[0]["id"]]
    assert fake.posts[0]["media_attachments"][0]["description"] == "L'affiche"
    assert adapter.reconcile(rendered, progress).parts == result.parts  # replayed, not re-created
    assert fake.created == 1


def test_reconcile_within_the_hour_spares_the_upload_when_the_status_is_visible(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of("Avec l'affiche", media=[Media(add_image(tmp_path), "L'affiche")])
    progress = progress_for(adapter, rendered)
    progress.on_start = lambda i: fake.inject(
        "POST", STATUSES, Fault.drop_after_commit(), times=None
    )
    assert adapter.publish(rendered, progress).outcome == Outcome.UNKNOWN
    fake.clear_faults()
    uploads = len(fake.requests_to("POST", r"^/api/v2/media$"))
    posts = len(status_posts(fake))

    result = adapter.reconcile(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert [p.id for p in result.parts] == [fake.posts[0]["id"]]
    assert len(fake.requests_to("POST", r"^/api/v2/media$")) == uploads
    assert len(status_posts(fake)) == posts
    assert fake.created == 1


def test_reconcile_within_the_hour_refused_resend_proves_absence(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    fake.max_characters = 10
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of("Beaucoup trop long pour ce serveur")
    progress = progress_for(adapter, rendered, started_at=datetime.now(UTC) - timedelta(minutes=5))

    result = adapter.reconcile(rendered, progress)

    assert result.outcome == Outcome.ABSENT
    assert "character limit" in (result.reason or "")
    assert fake.created == 0


def test_status_html_compares_equal_to_the_text_sent() -> None:
    # As Mastodon renders a long link (invisible/ellipsis spans), a hashtag, a remote
    # mention (shown without its domain), paragraphs and escaped characters.
    content = (
        '<p>Salut <span class="h-card"><a href="https://ex.org/@ana" class="u-url mention">'
        "@<span>ana</span></a></span> &amp; merci !</p><p>Le guide : "
        '<a href="https://example.org/un/long/chemin?a=1&amp;b=2" rel="nofollow noopener">'
        '<span class="invisible">https://</span><span class="ellipsis">example.org/un/long/'
        '</span><span class="invisible">chemin?a=1&amp;b=2</span></a><br />'
        '<a href="https://fake.social/tags/suite" class="mention hashtag" rel="tag">'
        "#<span>Suite</span></a></p>"
    )
    sent = (
        "Salut @ana@ex.org & merci !\n\nLe guide : "
        "https://example.org/un/long/chemin?a=1&b=2\n#Suite"
    )
    assert normalise(plain_text(content)) == normalise(sent)
    assert normalise(plain_text(content)) != normalise(sent + " !")


# -- resuming a thread ------------------------------------------------------------------------


def test_resumed_thread_sends_only_the_missing_parts(
    tmp_path: Path, fake: FakeMastodon, http: Http
) -> None:
    adapter = make_adapter(tmp_path, fake, http)
    rendered = rendered_of(*THREAD, media=[Media(add_image(tmp_path), "alt")])

    def crash(index: int) -> None:
        raise Crash  # killed right after part 1 was recorded

    first = progress_for(adapter, rendered, on_done=crash)
    with pytest.raises(Crash):
        adapter.publish(rendered, first)
    assert fake.created == 1
    uploads = len(fake.requests_to("POST", r"^/api/v2/media$"))

    resumed = MemoryProgress(first.handles, list(first.done))
    result = adapter.publish(rendered, resumed)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 3
    reqs = status_posts(fake)
    assert [r.json["status"] for r in reqs] == list(THREAD)
    assert reqs[1].json["in_reply_to_id"] == first.done[0].id
    assert reqs[2].json["in_reply_to_id"] == fake.posts[1]["id"]
    assert [p.id for p in result.parts] == [p["id"] for p in fake.posts]
    assert len(fake.requests_to("POST", r"^/api/v2/media$")) == uploads  # not re-uploaded
    assert resumed.events == [("started", 1), ("done", 1), ("started", 2), ("done", 2)]


# -- error texts are masked before they are cut -------------------------------------------------


def token_pieces(token: str, size: int = 6) -> list[str]:
    """Every run of `size` characters of the token: none may survive in any form."""
    return [token[i : i + size] for i in range(len(token) - size + 1)]


@pytest.mark.parametrize("form", ["raw", "lower", "url", "json_slash", "base64"])
def test_token_echoed_across_the_cut_of_a_long_error_never_leaks(
    tmp_path: Path, fake: FakeMastodon, http: Http, form: str
) -> None:
    """A server that echoes `Authorization: Bearer <token>` in a long error: wherever the
    token falls around the 300-character cut, not one run of 6 of its characters is kept."""
    token = "tok/en+Sec=ret_0123456789abcdef"  # `/` and `+`: its encoded forms all differ
    adapter = make_adapter(tmp_path, fake, http, token=token)
    fake.tokens.add(token)
    rendered = rendered_of("Bonjour")
    for offset in range(255, 305):
        template = json.dumps({"error": "x" * offset + " {authorization} " + "y" * 200})
        fake.inject("POST", STATUSES, Fault.echo(422, template, form))
        result = adapter.publish(rendered, progress_for(adapter, rendered))
        assert result.outcome == Outcome.FAILED, result
        reason = result.reason or ""
        body = (status_posts(fake)[-1].response_body or b"").decode()
        assert len(reason) < 340, reason
        if form in ("raw", "lower"):
            assert token.lower() in body.lower()  # the server did echo it
        for piece in token_pieces(token):
            assert piece.lower() not in reason.lower(), (offset, reason)
        for piece in token_pieces(echoed_token(token, form), 8):
            assert piece not in reason, (offset, form, reason)
    assert fake.created == 0


def echoed_token(token: str, form: str) -> str:
    """The characters of the echoed `Bearer <token>` that stand for the token alone."""
    value = f"Bearer {token}"
    if form == "base64":
        return base64.b64encode(value.encode()).decode()[12:-4]
    encoded = {
        "raw": value,
        "lower": value.lower(),
        "url": quote(value, safe=""),
        "json_slash": value.replace("/", "\\/"),
    }[form]
    return encoded[encoded.index("tok") :]
