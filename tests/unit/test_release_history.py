"""The release history as data: which release is current, what rollback goes back to,
which images stay, what a database allows, and the file's format version."""

import json

import pytest

from tr4ctl.plan.releases import (
    FAILED,
    FORMAT,
    FORMAT_VERSION,
    History,
    HistoryError,
    Release,
    parse_history,
    rollback_refusal,
)


def release(n: int, image: str, result: str = "succeeded", **extra) -> Release:
    values = {"fingerprint": None, "db_revision": None, **extra}
    return Release(id=f"r{n}", kind="deploy", time="2026-11-29T10:00:00+00:00", image=image,
                   image_id=f"sha256:{image}", result=result, **values)


def test_current_and_the_way_back_skip_failures_and_the_same_image():
    history = History([release(1, "a"), release(2, "b"), release(3, "b"),
                       release(4, "c", FAILED)])
    assert history.current.id == "r3"
    assert history.previous_good().id == "r1"  # r2 is the image running now
    assert history.next_id() == "r5"
    assert History().current is None and History().previous_good() is None


def test_the_last_five_successful_images_stay_and_older_or_failed_ones_go():
    history = History([release(1, "old"), release(2, "broken", FAILED),
                       *[release(n, f"img{n}") for n in range(3, 8)]])
    assert history.images_to_keep() == ["img7", "img6", "img5", "img4", "img3"]
    assert history.images_to_prune() == ["old", "broken"]
    # An image both old and current is kept.
    again = History([release(1, "x"), *[release(n, f"i{n}") for n in range(2, 7)],
                     release(7, "x")])
    assert "x" not in again.images_to_prune()


def test_a_rollback_past_a_migration_the_target_does_not_know_is_refused():
    target = release(1, "a", db_revision="0001", known_revisions=["0001"])
    assert rollback_refusal(target, "0001") is None
    assert "0002" in rollback_refusal(target, "0002")
    assert rollback_refusal(target, None) is None  # unknown: not refused on a guess


def test_the_file_round_trips_and_carries_its_format_version():
    history = History([release(1, "a", known_revisions=["0001"])])
    document = json.loads(history.to_json())
    assert document["format"] == FORMAT and document["format_version"] == FORMAT_VERSION
    assert parse_history(history.to_json()) == history


def test_an_older_file_with_fewer_or_unknown_fields_is_read():
    text = json.dumps({"format": FORMAT, "format_version": 1, "releases": [
        {"id": "r1", "kind": "deploy", "time": "t", "image": "a", "image_id": None,
         "fingerprint": None, "db_revision": None, "someday": "ignored"}]})
    assert parse_history(text).current.image == "a"


@pytest.mark.parametrize(("text", "words"), [
    ("{", "not JSON"),
    (json.dumps({"format": "other"}), "not a tr4ctl release history"),
    (json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION + 1}), "newer tr4ctl"),
])
def test_what_is_not_a_history_this_version_reads(text, words):
    with pytest.raises(HistoryError, match=words):
        parse_history(text)
