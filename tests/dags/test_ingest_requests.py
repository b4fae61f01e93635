"""Which paths the ingest task takes from its triggering asset events and params."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from mainstream.airflow_tasks import (
    DropRequest,
    merge_requests,
    requests_from_claimed,
    requests_from_events,
    requests_from_params,
)
from mainstream.home import Home


def _event(extra: dict) -> SimpleNamespace:
    """What the task sees of an asset event: its ``extra`` dict."""
    return SimpleNamespace(extra=extra)


def test_watcher_payloads_and_rest_posted_events_from_several_collapsed_events():
    watcher = _event(
        {
            "from_trigger": True,
            "payload": {"path": "/h/claimed/abc__a.csv", "agency": "undp", "original_path": "/h/landing/undp/a.csv"},
        }
    )
    second = _event({"from_trigger": True, "payload": {"path": "/h/claimed/def__b.xml", "agency": None}})
    posted = _event({"from_rest_api": True, "path": "/data/who.xml", "agency": "who"})
    posted_many = _event({"paths": ["/data/x.json", "/data/y.json"], "agency": "wfp"})

    requests = requests_from_events({"landing": [watcher, second, posted], "alias": [posted_many, posted]})

    assert requests == [
        DropRequest(Path("/h/claimed/abc__a.csv"), "undp", "watcher", Path("/h/landing/undp/a.csv")),
        DropRequest(Path("/h/claimed/def__b.xml"), None, "watcher"),
        DropRequest(Path("/data/who.xml"), "who", "event"),
        DropRequest(Path("/data/x.json"), "wfp", "event"),
        DropRequest(Path("/data/y.json"), "wfp", "event"),
    ]


def test_events_without_a_path_are_ignored():
    assert requests_from_events({"landing": [_event({}), _event({"payload": {"agency": "undp"}})]}) == []
    assert requests_from_events(None) == []


def test_params():
    assert requests_from_params({"paths": ["/a", "/b/"], "agency": "unicef"}) == [
        DropRequest(Path("/a"), "unicef", "params"),
        DropRequest(Path("/b"), "unicef", "params"),
    ]
    assert requests_from_params({"paths": [], "agency": None}) == []


def test_sweep_of_claimed_finds_waiting_files_with_their_agency_folder(home: Home):
    """Files whose asset event Airflow folded into an earlier run (apache/airflow#56050) are still found."""
    (home.claimed / "undp").mkdir(parents=True)
    csv = home.claimed / "undp" / "0123456789ab__programmes.csv"
    csv.write_text("x")
    top = home.claimed / "ba9876543210__extract.xml"
    top.write_text("x")
    (home.claimed / "undp" / ".partial.csv").write_text("x")

    swept = requests_from_claimed(home)

    assert sorted(swept, key=lambda request: str(request.path)) == [
        DropRequest(top, None, "claimed"),
        DropRequest(csv, "undp", "claimed"),
    ]


def test_merge_keeps_the_first_request_per_path(home: Home):
    path = home.claimed / "undp" / "0123456789ab__programmes.csv"
    from_event = DropRequest(path, "undp", "event")
    swept = DropRequest(path, "undp-folder", "claimed")
    other = DropRequest(home.claimed / "x.xml", None, "claimed")

    assert merge_requests([from_event], [swept, other]) == [from_event, other]
