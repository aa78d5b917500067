"""Shared links: from any page they open the Explore page (the root) with the controls and the goal."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("streamlit")

from slimlib.report.goal import Goal  # noqa: E402
from ui.state import root_url, share_url  # noqa: E402

PAGES = {"Heads", "Compare", "Export", "Presets", "Interactions", "Search", "Present"}


@pytest.mark.parametrize("url, root", [
    ("http://127.0.0.1:8501/Export", "http://127.0.0.1:8501/"),
    ("http://127.0.0.1:8501/Export/", "http://127.0.0.1:8501/"),
    ("http://127.0.0.1:8501/", "http://127.0.0.1:8501/"),
    ("http://127.0.0.1:8501", "http://127.0.0.1:8501/"),
    ("https://example.org/slim/Export", "https://example.org/slim/"),  # server.baseUrlPath or a proxy prefix
    ("https://example.org/slim/", "https://example.org/slim/"),
    ("http://h:1/Export?cfg=old#x", "http://h:1/"),
    (None, "http://127.0.0.1:8501/"),
])
def test_root_url_cuts_only_a_page_path(url, root):
    assert root_url(url, PAGES) == root


def test_share_url_from_the_export_page_opens_explore_with_the_goal():
    goal = Goal.parse("sts_retained>=0.97;size_mb<=25;max:speedup")
    link = share_url("TOKEN", goal.to_text(), url="http://127.0.0.1:8501/Export", page_paths=PAGES)
    parts = urlsplit(link)
    assert parts.path == "/"
    query = parse_qs(parts.query)
    assert query["cfg"] == ["TOKEN"]
    assert Goal.parse(query["goal"][0]) == goal
    assert "goal" not in parse_qs(urlsplit(share_url("T", "", url="http://h:1/Export", page_paths=PAGES)).query)
