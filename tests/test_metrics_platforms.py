"""Metrics readers of X, LinkedIn, Facebook, Instagram, Threads and dev.to against loopback
servers that follow the platforms' read APIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests import metrics_repo as mr
from tests.conftest import run_cli, write_repo
from tests.fakes.insights import FakeDevto, FakeGraph, FakeLinkedIn, FakeX

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TOKEN = "platform-S3cr3t-token"


def repo(tmp_path: Path, channels: str) -> Path:
    return write_repo(
        tmp_path / "repo", {}, config=f"timezone: Europe/Paris\nchannels:\n{channels}"
    )


def collect(root: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return run_cli(["metrics", "collect", "--at", mr.iso(NOW)], root, env=env)


def test_x_public_metrics_in_batches(tmp_path: Path) -> None:
    with FakeX(TOKEN) as x:
        x.tweets = {
            "1001": {
                "like_count": 5,
                "retweet_count": 2,
                "reply_count": 1,
                "quote_count": 1,
                "bookmark_count": 3,
                "impression_count": 400,
            }
        }
        x.followers = 321
        root = repo(
            tmp_path,
            f"  x:\n    platform: x\n    base_url: {x.url}/2\n    token_env: CMFLOW_X_TOKEN\n",
        )
        mr.record(root, "a", "x", "x", ["1001"], NOW - timedelta(hours=2))
        mr.record(root, "gone", "x", "x", ["1002"], NOW - timedelta(hours=2))
        result = collect(root, {"CMFLOW_X_TOKEN": TOKEN})
        assert result.exit_code == 0, result.output
        rows = {r["post"]: r for r in mr.rows(root, "posts")}
        a = rows["a"]
        assert (
            a["likes"],
            a["reposts"],
            a["replies"],
            a["quotes"],
            a["saves"],
            a["impressions"],
        ) == ("5", "2", "1", "1", "3", "400")
        assert rows["gone"]["status"] == "missing" and rows["gone"]["likes"] == ""
        assert mr.rows(root, "accounts")[0]["followers"] == "321"
        assert len(x.requests_to("GET", r"^/2/tweets$")) == 1


def test_linkedin_organization_share_statistics(tmp_path: Path) -> None:
    with FakeLinkedIn(TOKEN) as li:
        li.stats = {
            "urn:li:share:7001": {
                "impressionCount": 900,
                "uniqueImpressionsCount": 700,
                "clickCount": 31,
                "likeCount": 20,
                "commentCount": 4,
                "shareCount": 3,
            },
            "urn:li:ugcPost:7002": {
                "impressionCount": 100,
                "uniqueImpressionsCount": 90,
                "clickCount": 2,
                "likeCount": 1,
                "commentCount": 0,
                "shareCount": 0,
            },
        }
        li.followers = 5400
        root = repo(
            tmp_path,
            f"  linkedin:\n    platform: linkedin\n    author: urn:li:organization:123\n    base_url: {li.url}/rest\n    token_env: CMFLOW_LINKEDIN_TOKEN\n",
        )
        mr.record(
            root, "a", "linkedin", "linkedin", ["urn:li:share:7001"], NOW - timedelta(hours=30)
        )
        mr.record(
            root, "b", "linkedin", "linkedin", ["urn:li:ugcPost:7002"], NOW - timedelta(hours=30)
        )
        result = collect(root, {"CMFLOW_LINKEDIN_TOKEN": TOKEN})
        assert result.exit_code == 0, result.output
        rows = {r["post"]: r for r in mr.rows(root, "posts")}
        a = rows["a"]
        assert (
            a["likes"],
            a["replies"],
            a["shares"],
            a["clicks"],
            a["impressions"],
            a["reach"],
        ) == ("20", "4", "3", "31", "900", "700")
        assert rows["b"]["impressions"] == "100"
        assert mr.rows(root, "accounts")[0]["followers"] == "5400"


def test_meta_graph_instagram_facebook_threads_and_expired_token(tmp_path: Path) -> None:
    with FakeGraph(TOKEN) as g:
        g.insights = {
            "ig1": {
                "views": 1500,
                "reach": 900,
                "likes": 70,
                "comments": 5,
                "shares": 4,
                "saved": 9,
            },
            "th1": {
                "views": 300,
                "likes": 12,
                "replies": 2,
                "reposts": 1,
                "quotes": 0,
                "shares": 1,
            },
            "1234_55": {"post_clicks": 17, "post_total_media_view_unique": 640},
            "777": {"followers_count": 910},
        }
        g.objects = {
            "1234_55": {
                "reactions": {"data": [], "summary": {"total_count": 33}},
                "comments": {"data": [], "summary": {"total_count": 6}},
            },
            "17841400000000000": {"followers_count": 2500, "follows_count": 80, "media_count": 40},
            "1234": {"followers_count": 4100},
        }
        base = f"{g.url}/v21.0"
        channels = (
            f"  instagram:\n    platform: instagram\n    user_id: '17841400000000000'\n    media_base_url: https://example.fr/media\n    base_url: {base}\n    token_env: CMFLOW_IG_TOKEN\n"
            f"  facebook:\n    platform: facebook\n    page_id: '1234'\n    base_url: {base}\n    token_env: CMFLOW_FB_TOKEN\n"
            f"  threads:\n    platform: threads\n    user_id: '777'\n    media_base_url: https://example.fr/media\n    base_url: {base}\n    token_env: CMFLOW_THREADS_TOKEN\n"
        )
        root = repo(tmp_path, channels)
        mr.record(root, "a", "instagram", "instagram", ["ig1"], NOW - timedelta(hours=30))
        mr.record(root, "a", "facebook", "facebook", ["1234_55"], NOW - timedelta(hours=30))
        mr.record(root, "a", "threads", "threads", ["th1"], NOW - timedelta(hours=30))
        env = {
            "CMFLOW_IG_TOKEN": TOKEN,
            "CMFLOW_FB_TOKEN": TOKEN,
            "CMFLOW_THREADS_TOKEN": "expired",
        }
        result = collect(root, env)
        assert result.exit_code == 1  # Threads needs a new token
        assert "CMFLOW_THREADS_TOKEN" in result.output and "expired" not in result.output
        rows = {r["channel"]: r for r in mr.rows(root, "posts")}
        ig = rows["instagram"]
        # Views stand where impressions were (removed by Meta in 2025); never asked for.
        assert (
            ig["impressions"],
            ig["reach"],
            ig["likes"],
            ig["replies"],
            ig["shares"],
            ig["saves"],
        ) == ("1500", "900", "70", "5", "4", "9")
        assert not [r for r in g.requests if "impressions" in r.query.get("metric", "").split(",")]
        fb = rows["facebook"]
        assert (fb["likes"], fb["replies"], fb["shares"], fb["clicks"], fb["reach"]) == (
            "33",
            "6",
            "0",
            "17",
            "640",
        )
        assert rows["threads"]["status"] == "refused" and rows["threads"]["likes"] == ""
        followers = {r["name"]: r["followers"] for r in mr.rows(root, "accounts")}
        assert followers["instagram"] == "2500" and followers["facebook"] == "4100"


def test_devto_articles(tmp_path: Path) -> None:
    with FakeDevto(TOKEN) as d:
        d.articles = [
            {
                "id": 55,
                "title": "x",
                "page_views_count": 880,
                "public_reactions_count": 23,
                "comments_count": 4,
            }
        ]
        root = repo(
            tmp_path,
            f"  devto:\n    platform: devto\n    base_url: {d.url}/api\n    token_env: CMFLOW_DEVTO_KEY\n",
        )
        mr.record(root, "a", "devto", "devto", ["55"], NOW - timedelta(hours=30))
        result = collect(root, {"CMFLOW_DEVTO_KEY": TOKEN})
        assert result.exit_code == 0, result.output
        (row,) = mr.rows(root, "posts")
        assert (row["likes"], row["replies"], row["impressions"]) == ("23", "4", "880")
