"""All twelve channels at once: one content repository (a real git repository with a bare
remote, `cmflow publish --commit` in a subprocess) configured with every platform cmflow
publishes to (the real Bluesky PDS behind a fault proxy, ten loopback fakes, and the feed
written into the repository), and one post with an image and a thread going everywhere.

What a community manager relies on: each channel shows the post exactly once (each thread
part once where the platform threads, the image with its alt text where the platform takes
alt text), also when every platform commits a post and then loses the answer, and when the
run is killed mid-way; `cmflow plan` says for each (post, channel) what happens and why; no
secret ends up in what cmflow prints, records or pushes.

The fakes start once for the module; each test writes its own repository and tells its posts
apart from the others' by a marker in the text.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import requests

from tests.fakes import (
    FakeDevto,
    FakeDiscord,
    FakeLinkedIn,
    FakeMastodon,
    FakeServer,
    FakeSlack,
    FakeTelegram,
    FakeX,
    Fault,
    FaultProxy,
)
from tests.fakes.facebook import FakeFacebook
from tests.fakes.graph import StaticSite
from tests.fakes.instagram import FakeInstagram
from tests.fakes.threads import FakeThreads
from tests.meta import JPEG
from tests.peers.fixtures import BlueskyPeer, bluesky_pds  # noqa: F401
from tests.publishing import (
    DISCORD_ID,
    DISCORD_TOKEN,
    MASTODON_TOKEN,
    TELEGRAM_CHAT,
    TELEGRAM_TOKEN,
    Site,
    from_now,
    init_remote,
    post,
    pushed_site,
    remote_history,
    remote_record,
    wait_until,
)

# Secrets: distinctive, so that a grep finds them wherever they would leak.
X_TOKEN = "x-oauth2-S3cr3t-twelve-token-4e7d"
LINKEDIN_TOKEN = "AQV-linkedin-S3cr3t-twelve-9c3a"
DEVTO_KEY = "devto-S3cr3t-twelve-key-b81f"
FACEBOOK_TOKEN = "EAAFbS3cr3tTwelvePageT0ken71"
INSTAGRAM_TOKEN = "IGQWS3cr3tTwelveT0ken5531ab"
THREADS_TOKEN = "THQWJS3cr3tTwelveT0ken90cd"
SLACK_SECRET = "sLaCkS3cr3tTwelve0123456789"
LINKEDIN_AUTHOR = "urn:li:organization:2414183"

ENV = {
    "mastodon": "CMFLOW_MASTODON_TOKEN",
    "bluesky": "CMFLOW_BLUESKY_APP_PASSWORD",
    "discord": "CMFLOW_DISCORD_WEBHOOK",
    "slack": "CMFLOW_SLACK_WEBHOOK",
    "telegram": "CMFLOW_TELEGRAM_TOKEN",
    "x": "CMFLOW_X_TOKEN",
    "linkedin": "CMFLOW_LINKEDIN_TOKEN",
    "devto": "CMFLOW_DEVTO_API_KEY",
    "facebook": "CMFLOW_FACEBOOK_TOKEN",
    "instagram": "CMFLOW_INSTAGRAM_TOKEN",
    "threads": "CMFLOW_THREADS_TOKEN",
}
CHANNELS: tuple[str, ...] = ("bluesky", "devto", "discord", "facebook", "feed", "instagram")
CHANNELS += ("linkedin", "mastodon", "slack", "telegram", "threads", "x")
ALT = "Bacs à compost au jardin partagé, une pelle posée dessus"


@dataclass
class Rig:
    """The twelve platforms of the module, started once."""

    mastodon: FakeMastodon
    discord: FakeDiscord
    slack: FakeSlack
    telegram: FakeTelegram
    x: FakeX
    linkedin: FakeLinkedIn
    devto: FakeDevto
    facebook: FakeFacebook
    instagram: FakeInstagram
    threads: FakeThreads
    web: StaticSite  # the public site Instagram and Threads fetch images from
    pds: BlueskyPeer
    bluesky: FaultProxy  # in front of the real PDS

    def fakes(self) -> dict[str, FakeServer]:
        return {
            "mastodon": self.mastodon,
            "discord": self.discord,
            "slack": self.slack,
            "telegram": self.telegram,
            "x": self.x,
            "linkedin": self.linkedin,
            "devto": self.devto,
            "facebook": self.facebook,
            "instagram": self.instagram,
            "threads": self.threads,
        }

    @property
    def discord_url(self) -> str:
        return self.discord.webhook_url_for(DISCORD_ID)

    def env(self) -> dict[str, str]:
        return {
            ENV["mastodon"]: MASTODON_TOKEN,
            ENV["bluesky"]: self.pds.app_password,
            ENV["discord"]: self.discord_url,
            ENV["slack"]: self.slack.webhook_url,
            ENV["telegram"]: TELEGRAM_TOKEN,
            ENV["x"]: X_TOKEN,
            ENV["linkedin"]: LINKEDIN_TOKEN,
            ENV["devto"]: DEVTO_KEY,
            ENV["facebook"]: FACEBOOK_TOKEN,
            ENV["instagram"]: INSTAGRAM_TOKEN,
            ENV["threads"]: THREADS_TOKEN,
        }

    def secrets(self) -> list[str]:
        return [
            *self.env().values(),
            TELEGRAM_TOKEN.partition(":")[2],
            DISCORD_TOKEN,
            SLACK_SECRET,
            self.pds.password,
        ]

    def channels(self) -> dict[str, dict[str, Any]]:
        graph = "v25.0"
        return {
            "bluesky": {
                "platform": "bluesky",
                "base_url": self.bluesky.url,
                "handle": self.pds.handle,
                "password_env": ENV["bluesky"],
            },
            "devto": {
                "platform": "devto",
                "base_url": f"{self.devto.url}/api",
                "token_env": ENV["devto"],
            },
            "discord": {"platform": "discord", "webhook_env": ENV["discord"]},
            "facebook": {
                "platform": "facebook",
                "base_url": f"{self.facebook.url}/{graph}",
                "page_id": self.facebook.page_id,
                "token_env": ENV["facebook"],
            },
            "feed": {
                "platform": "feed",
                "output_dir": "public",
                "site_url": "https://example.fr/actus",
            },
            "instagram": {
                "platform": "instagram",
                "base_url": f"{self.instagram.url}/{graph}",
                "user_id": self.instagram.user_id,
                "token_env": ENV["instagram"],
                "media_base_url": f"{self.web.url}/media",
            },
            "linkedin": {
                "platform": "linkedin",
                "base_url": f"{self.linkedin.url}/rest",
                "author": LINKEDIN_AUTHOR,
                "token_env": ENV["linkedin"],
            },
            "mastodon": {
                "platform": "mastodon",
                "base_url": self.mastodon.url,
                "token_env": ENV["mastodon"],
            },
            "slack": {
                "platform": "slack",
                "webhook_env": ENV["slack"],
                "media_base_url": f"{self.web.url}/media",
            },
            "telegram": {
                "platform": "telegram",
                "base_url": self.telegram.url,
                "chat_id": TELEGRAM_CHAT,
                "token_env": ENV["telegram"],
            },
            "threads": {
                "platform": "threads",
                "base_url": f"{self.threads.url}/v1.0",
                "user_id": self.threads.user_id,
                "token_env": ENV["threads"],
                "media_base_url": f"{self.web.url}/media",
            },
            "x": {"platform": "x", "base_url": f"{self.x.url}/2", "token_env": ENV["x"]},
        }


@pytest.fixture(scope="module")
def rig(
    bluesky_pds: BlueskyPeer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Rig]:
    servers: list[Any] = []

    def started(server: Any) -> Any:
        servers.append(server)
        return server.start()

    try:
        discord = started(FakeDiscord())
        discord.add_webhook(DISCORD_ID, DISCORD_TOKEN)
        slack = started(FakeSlack())
        slack.webhook_path = slack.add_webhook("T0TWELVE", "B0TWELVE", SLACK_SECRET)
        devto = started(FakeDevto(api_key=DEVTO_KEY))
        devto.write_interval = 0.0
        rig = Rig(
            mastodon=started(FakeMastodon(token=MASTODON_TOKEN)),
            discord=discord,
            slack=slack,
            telegram=started(FakeTelegram(token=TELEGRAM_TOKEN)),
            x=started(FakeX(token=X_TOKEN)),
            linkedin=started(FakeLinkedIn(token=LINKEDIN_TOKEN, author=LINKEDIN_AUTHOR)),
            devto=devto,
            facebook=started(FakeFacebook(token=FACEBOOK_TOKEN)),
            instagram=started(FakeInstagram(token=INSTAGRAM_TOKEN)),
            threads=started(FakeThreads(token=THREADS_TOKEN)),
            web=started(StaticSite(tmp_path_factory.mktemp("web"))),
            pds=bluesky_pds,
            bluesky=started(FaultProxy(bluesky_pds.url)),
        )
        yield rig
    finally:
        for server in reversed(servers):
            server.stop()


BODY = """Atelier compost {m} samedi au jardin partagé, venez avec vos épluchures.

<!-- thread -->
Deuxième partie {m} : on commence à 10 h, café offert.

<!-- thread -->
Troisième partie {m} : inscriptions sur le site de la marque."""


def twelve_post(marker: str) -> str:
    return post(
        list(CHANNELS),
        BODY.format(m=marker),
        title=f"Atelier compost {marker}",
        media=[{"path": "media/atelier.jpg", "alt": ALT}],
        # dev.to takes no images from cmflow (an article's images are links in its Markdown).
        variants={"devto": {"media": []}},
    )


def post_id(marker: str) -> str:
    """Each test its own post id: the platforms remember ids (Mastodon's idempotency key,
    dev.to's canonical URL) across the module's tests, as they would across runs."""
    return f"atelier-{marker}"


def make_site(rig: Rig, tmp_path: Path, marker: str) -> tuple[Site, Path]:
    remote = init_remote(tmp_path / "remote.git")
    s = pushed_site(
        remote,
        tmp_path / "ci",
        rig.channels(),
        {f"{post_id(marker)}.md": twelve_post(marker)},
        env=rig.env(),
        secrets=rig.secrets(),
        media={"media/atelier.jpg": JPEG},
    )
    rig.web.root = s.root  # the site Instagram and Threads fetch the image from
    return s, remote


# -- the oracles ------------------------------------------------------------------------------

# Where the platform chains a thread, each part is its own post; elsewhere the renderer joins
# the parts into one post (one message for the webhooks, one article, one caption).
THREADED = {"bluesky", "mastodon", "telegram", "threads", "x"}
PARTS = ("Atelier compost", "Deuxième partie", "Troisième partie")


def own_text(platform: str, entity: dict[str, Any]) -> str:
    """The text a created post shows, in each platform's own field."""
    key = {
        "mastodon": "content",
        "discord": "content",
        "linkedin": "text",
        "devto": "body_markdown",
        "facebook": "message",
        "instagram": "caption",
    }.get(platform)
    if key is not None:
        return str(entity.get(key) or "")
    return str(entity.get("text") or entity.get("caption") or "")


def bluesky_records(rig: Rig, marker: str) -> list[dict[str, Any]]:
    """The marker's posts in the PDS repository, oldest first (read from the PDS itself)."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"repo": rig.pds.did, "collection": "app.bsky.feed.post", "limit": "100"}
        if cursor:
            params["cursor"] = cursor
        resp = requests.get(
            f"{rig.pds.url}/xrpc/com.atproto.repo.listRecords", params=params, timeout=30
        )
        assert resp.status_code == 200, resp.text
        data = resp.json()
        found += [r for r in data["records"] if marker in r["value"]["text"]]
        cursor = data.get("cursor")
        if not cursor or not data["records"]:
            # Record keys are TIDs, chosen in order: the thread's order.
            return sorted(found, key=lambda r: (str(r["value"]["createdAt"]), str(r["uri"])))


def feed_entries(s: Site, marker: str) -> list[str]:
    """The HTML content of the Atom feed's entries whose title holds `marker`."""
    path = s.root / "public" / "feed.xml"
    if not path.is_file():
        return []
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ElementTree.parse(path).getroot()
    return [
        entry.findtext("a:content", "", ns)
        for entry in root.findall("a:entry", ns)
        if marker in entry.findtext("a:title", "", ns)
    ]


def seen(rig: Rig, s: Site, marker: str) -> dict[str, list[dict[str, Any]]]:
    """Per channel, the posts the platform holds with `marker` in their own text."""
    out: dict[str, list[dict[str, Any]]] = {
        name: [p for p in fake.posts if marker in own_text(name, p)]
        for name, fake in rig.fakes().items()
    }
    out["bluesky"] = [{**r["value"], "_uri": r["uri"]} for r in bluesky_records(rig, marker)]
    out["feed"] = [{"text": e} for e in feed_entries(s, marker)]
    return out


def own_id(platform: str, entity: dict[str, Any]) -> str:
    key = {"bluesky": "_uri", "telegram": "message_id"}.get(platform, "id")
    return str(entity[key])


def replied_to(platform: str, entity: dict[str, Any]) -> str | None:
    """The id of the post a thread part answers, as the platform shows it."""
    if platform == "bluesky":
        return str(entity["reply"]["parent"]["uri"])
    if platform == "mastodon":
        return str(entity["in_reply_to_id"])
    if platform == "threads":
        return str(entity["replied_to"])
    if platform == "telegram":
        return str(entity["reply_to_message"]["message_id"])
    refs = [r["id"] for r in entity.get("referenced_tweets", []) if r["type"] == "replied_to"]
    return str(refs[0]) if refs else None


def assert_once_everywhere(rig: Rig, s: Site, marker: str) -> dict[str, list[dict[str, Any]]]:
    """Every channel holds the post exactly once: each thread part once where the platform
    threads, one post with every part's text elsewhere."""
    posts = seen(rig, s, marker)
    counts = {name: len(posts[name]) for name in CHANNELS}
    expected = {name: 3 if name in THREADED else 1 for name in CHANNELS}
    assert counts == expected, counts
    for name in CHANNELS:
        texts = [own_text(name, p) if name != "bluesky" else str(p["text"]) for p in posts[name]]
        if name in THREADED:
            for text, start in zip(texts, PARTS, strict=True):
                assert start in text, (name, texts)
            for before, after in zip(posts[name], posts[name][1:], strict=False):
                assert replied_to(name, after) == own_id(name, before), (name, after)
        else:
            assert all(part in texts[0] for part in PARTS), (name, texts)
    return posts


def assert_image_and_alt(rig: Rig, posts: dict[str, list[dict[str, Any]]]) -> None:
    """The image is on the (first) post, with its alt text where the platform takes it."""
    first = {name: found[0] for name, found in posts.items()}
    assert [a["description"] for a in first["mastodon"]["media_attachments"]] == [ALT]
    assert [i["alt"] for i in first["bluesky"]["embed"]["images"]] == [ALT]
    assert [a["description"] for a in first["discord"]["attachments"]] == [ALT]
    images = [b for b in first["slack"].get("blocks", []) if b.get("type") == "image"]
    assert [b["alt_text"] for b in images] == [ALT], first["slack"]
    assert images[0]["image_url"].startswith(rig.web.url)
    assert len(first["telegram"]["photo"]) >= 1  # a Telegram photo has no alt text
    keys = first["x"]["attachments"]["media_keys"]
    assert [rig.x.media_alt(k) for k in keys] == [ALT]
    assert first["linkedin"]["content"]["media"]["altText"] == ALT
    assert [a["alt_text"] for a in first["facebook"]["attachments"]] == [ALT]
    assert first["instagram"]["alt_text"] == [ALT]
    assert first["threads"]["alt_text"] == [ALT]
    assert "atelier.jpg" not in first["devto"]["body_markdown"]  # its variant has no media
    assert f'alt="{ALT}"' in first["feed"]["text"], first["feed"]
    # Only the first part carries the image.
    for name in THREADED - {"bluesky"}:
        later_parts = posts[name][1:]
        assert all(
            not (p.get("media_attachments") or p.get("photo") or p.get("image_urls"))
            and not (p.get("attachments") or {}).get("media_keys")
            for p in later_parts
        ), (name, later_parts)
    assert all("embed" not in p for p in posts["bluesky"][1:])


def by_pair(plan: dict[str, Any], marker: str) -> dict[str, dict[str, Any]]:
    """`plan --format json` actions of the one post, by channel."""
    actions = plan["actions"]
    assert {a["post"] for a in actions} == {post_id(marker)}, actions
    return {a["channel"]: a for a in actions}


def text_line(stdout: str, channel: str, marker: str) -> str:
    """The line of `cmflow plan` (text) about `channel`'s pair."""
    lines = [
        line
        for line in stdout.splitlines()
        if re.search(rf"\s{re.escape(channel)}\s+content/{post_id(marker)}\.md\s", line)
    ]
    assert len(lines) == 1, (channel, stdout)
    return lines[0]


def marker() -> str:
    return f"tw-{uuid.uuid4().hex[:8]}"


# -- 1. one post, twelve channels -------------------------------------------------------------


def test_one_post_with_an_image_and_a_thread_lands_once_on_each_of_the_twelve_channels(
    rig: Rig, tmp_path: Path
) -> None:
    m = marker()
    s, remote = make_site(rig, tmp_path, m)

    before = by_pair(s.plan(), m)
    assert sorted(before) == sorted(CHANNELS)
    for action in before.values():
        assert action["action"] == "publish" and action["reason"].startswith("due "), action
        assert action["state"] is None, action
    text_plan = s.run("plan", at=s.runs[-1].args[-1])
    assert text_plan.code == 0, text_plan
    for name in CHANNELS:
        assert text_line(text_plan.stdout, name, m).split()[:2] == ["+", "publish"], text_plan
        assert "due 1 h ago" in text_line(text_plan.stdout, name, m)

    first = s.publish("--commit")
    assert first.code == 0, first
    posts = assert_once_everywhere(rig, s, m)
    assert_image_and_alt(rig, posts)
    for name in CHANNELS:
        entry = remote_record(remote, post_id(m), name)
        assert entry is not None and entry["state"] == "published", (name, entry)
        assert len(entry["parts"]) == (3 if name in THREADED else 1), (name, entry)

    after = by_pair(s.plan("--all", at=from_now(minutes=10)), m)
    assert sorted(after) == sorted(CHANNELS)
    for action in after.values():
        assert action["action"] == "done" and action["state"] == "published", action
        assert action["reason"].startswith("published "), action

    again = s.publish("--commit", at=from_now(minutes=10))
    assert again.code == 0, again
    assert_once_everywhere(rig, s, m)
    s.assert_no_secret(remote_history(remote))


# -- 2. every platform commits, then loses the answer -----------------------------------------

# The request that creates the post (or its first part) on each platform.
CREATE = {
    "mastodon": r"^/api/v1/statuses$",
    "discord": r"^/api/webhooks/",
    "slack": r"^/services/",
    "telegram": r"/sendPhoto$",
    "x": r"^/2/tweets$",
    "linkedin": r"^/rest/posts$",
    "devto": r"^/api/articles$",
    "facebook": r"/(feed|photos)$",  # a single image goes to /photos with the message
    "instagram": r"/media_publish$",
    "threads": r"/threads_publish$",
}
BLUESKY_CREATE = r"/xrpc/com\.atproto\.repo\.createRecord$"
# Webhooks and a Telegram bot cannot read the channel back: a human must look.
BLIND = {"discord", "slack", "telegram"}


def sent(fake: FakeServer, path: str, marker: str) -> int:
    """How many create requests holding `marker` reached the fake (whatever it answered)."""
    return sum(marker.encode() in r.body for r in fake.requests_to("POST", path))


def test_answers_lost_after_commit_on_every_platform_still_give_one_post_each(
    rig: Rig, tmp_path: Path
) -> None:
    m = marker()
    pid = post_id(m)
    s, remote = make_site(rig, tmp_path, m)
    fakes = rig.fakes()
    for name, path in CREATE.items():
        fakes[name].inject("POST", path, Fault.drop_after_commit(), times=1)
    rig.bluesky.inject("POST", BLUESKY_CREATE, Fault.drop_after_commit(), times=1)
    try:
        first = s.publish("--commit")
        # Every fault fired: each platform created the post (or its first part) and the
        # connection dropped before its answer.
        assert {n: f.pending_faults for n, f in fakes.items()} == dict.fromkeys(fakes, 0)
        assert rig.bluesky.pending_faults == 0
    finally:
        for fake in fakes.values():
            fake.clear_faults()
        rig.bluesky.clear_faults()
    assert first.code == 1, first  # some outcomes are unknown
    for name in BLIND:
        assert s.state(pid, name) == "unknown", (name, s.record(pid, name))
    blind_sent = {name: sent(fakes[name], CREATE[name], m) for name in BLIND}
    assert blind_sent == dict.fromkeys(BLIND, 1), blind_sent

    second = s.publish("--commit", at=from_now(minutes=10))
    third = s.publish("--commit", at=from_now(minutes=20))
    for run in (second, third):
        assert run.code == 1, run  # three pairs wait for a human, nothing crashed
    # Nothing was resent where nobody could look.
    assert {name: sent(fakes[name], CREATE[name], m) for name in BLIND} == blind_sent

    posts = seen(rig, s, m)
    counts = {name: len(posts[name]) for name in CHANNELS}
    # The blind ones keep the message that landed; Telegram's thread stops at its first part,
    # whose outcome nobody could prove, until a human resolves it.
    expected = {name: 3 if name in THREADED else 1 for name in CHANNELS}
    expected["telegram"] = 1
    assert counts == expected, (counts, first, second, third)
    plan = by_pair(s.plan("--all", at=from_now(minutes=30)), m)
    text = s.run("plan", "--all", at=from_now(minutes=30))
    assert text.code == 0, text
    for name in CHANNELS:
        entry = remote_record(remote, pid, name)
        assert entry is not None, name
        if name in BLIND:
            assert entry["state"] == "needs_human", (name, entry)
            assert plan[name]["action"] == "blocked", plan[name]
            reason = plan[name]["reason"]
            assert "needs a human" in reason, reason
            assert f"cmflow resolve {pid} {name} --published URL" in reason, reason
            line = text_line(text.stdout, name, m)
            assert "blocked" in line and f"cmflow resolve {pid} {name}" in line, line
        else:
            assert entry["state"] == "published", (name, entry)
            assert len(entry["parts"]) == expected[name], (name, entry)
            assert plan[name]["action"] == "done", plan[name]
    s.assert_no_secret(remote_history(remote))


# -- 2b. the run is killed mid-way ------------------------------------------------------------


def test_publish_killed_mid_run_then_rerun_gives_one_post_everywhere(
    rig: Rig, tmp_path: Path
) -> None:
    m = marker()
    s, remote = make_site(rig, tmp_path, m)
    # LinkedIn creates the post, then answers slowly; X creates the second part of the thread,
    # then answers slowly. The run is killed while both wait, once the other ten channels are
    # recorded (channels run concurrently: a blind channel caught mid-send would rightly need
    # a human, which the lost-answer test covers).
    pid = post_id(m)
    rig.linkedin.inject("POST", CREATE["linkedin"], Fault.stall_after_commit(10), times=1)
    rig.x.stall_nth = (rig.x.created + 2, 10.0)
    try:
        running = s.start("publish", "--commit", at=from_now(minutes=0))
        others = set(CHANNELS) - {"linkedin", "x"}

        def caught_mid_run() -> bool:
            posts = {n: rig.fakes()[n].posts for n in ("linkedin", "x")}
            return (
                sum(m in own_text("linkedin", p) for p in posts["linkedin"]) == 1
                and sum(m in own_text("x", p) for p in posts["x"]) == 2
                and all(s.state(pid, n) == "published" for n in others)
            )

        wait_until(caught_mid_run, timeout=60, what="LinkedIn and X to stall mid-run")
        killed = running.kill()
    finally:
        rig.x.stall_nth = None
    assert killed.code == -9
    for name in ("linkedin", "x"):
        entry = s.record(pid, name)
        assert entry is not None and entry["state"] == "claimed", entry
    x_entry = s.record(pid, "x") or {}
    assert len(x_entry["parts"]) == 1  # part 2 was sent, its id never came back
    # With --commit the claims were pushed before sending; the outcome never was.
    pushed = remote_record(remote, pid, "linkedin")
    assert pushed is not None and pushed["state"] == "claimed", pushed

    again = s.publish("--commit", at=from_now(minutes=31))  # past the claim's lease
    assert again.code == 0, again.stdout
    third = s.publish("--commit", at=from_now(minutes=40))
    assert third.code == 0, third
    posts = assert_once_everywhere(rig, s, m)
    assert_image_and_alt(rig, posts)
    # The recovered thread goes on from the part that landed unconfirmed.
    x_posts = posts["x"]
    assert x_posts[2]["referenced_tweets"] == [{"type": "replied_to", "id": x_posts[1]["id"]}]
    for name in CHANNELS:
        pushed = remote_record(remote, pid, name)
        assert pushed is not None and pushed["state"] == "published", (name, pushed)
    x_record = remote_record(remote, pid, "x") or {}
    assert [p["id"] for p in x_record["parts"]] == [p["id"] for p in x_posts]
    li_record = remote_record(remote, pid, "linkedin") or {}
    assert li_record["parts"][0]["id"] == posts["linkedin"][0]["id"]
    s.assert_no_secret(remote_history(remote))


# -- 3. plan explains a skipped channel -------------------------------------------------------


def test_plan_names_the_unset_variable_and_the_missing_connection_key(
    rig: Rig, tmp_path: Path
) -> None:
    m = marker()
    channels = rig.channels()
    del channels["linkedin"]["author"]
    env = rig.env()
    del env[ENV["x"]]
    s = pushed_site(
        init_remote(tmp_path / "remote.git"),
        tmp_path / "ci",
        channels,
        {f"{post_id(m)}.md": twelve_post(m)},
        env=env,
        secrets=rig.secrets(),
        media={"media/atelier.jpg": JPEG},
    )
    rig.web.root = s.root
    plan = by_pair(s.plan("--all"), m)
    assert plan["x"]["action"] == "skip", plan["x"]
    assert ENV["x"] in plan["x"]["reason"], plan["x"]
    assert plan["linkedin"]["action"] == "skip", plan["linkedin"]
    assert "`author`" in plan["linkedin"]["reason"], plan["linkedin"]
    assert "channels.yaml" in plan["linkedin"]["reason"], plan["linkedin"]
    for name in set(CHANNELS) - {"x", "linkedin"}:
        assert plan[name]["action"] == "publish", plan[name]
    text = s.run("plan", "--all", at=from_now(minutes=0))
    assert text.code == 0, text
    assert ENV["x"] in text_line(text.stdout, "x", m), text.stdout
    assert "`author`" in text_line(text.stdout, "linkedin", m), text.stdout

    # The run does what the plan said: the two channels wait, the ten others publish.
    result = s.publish()
    assert result.code == 0, result  # a skipped pair is an outcome, not a failure
    assert f"missing credentials: set {ENV['x']}" in result.stdout, result
    assert "set `author` under channels.linkedin in channels.yaml" in result.stdout, result
    posts = seen(rig, s, m)
    assert posts["x"] == [] and posts["linkedin"] == [], posts
    for name in set(CHANNELS) - {"x", "linkedin"}:
        assert s.state(post_id(m), name) == "published", (name, s.record(post_id(m), name))
        assert len(posts[name]) == (3 if name in THREADED else 1), (name, posts[name])
    assert s.record(post_id(m), "x") is None and s.record(post_id(m), "linkedin") is None
    s.assert_no_secret()
