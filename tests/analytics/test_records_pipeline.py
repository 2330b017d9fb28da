"""ingest_records (analytics/services/records/pipeline.py): the retry of a write the database
refuses, for every door (tracking API, POST /api/import, manage.py import_data)."""

import pytest
from django.db import IntegrityError, OperationalError

from accounts.models import User
from analytics.services.records import catalog
from analytics.services.records.pipeline import RecordError, ingest_records
from courses.models import Course

REFUSED = "refused by the database: simulated constraint violation"


def records():
    return list(
        enumerate(
            [
                {"kind": "user", "email": "ada@example.com"},
                {"kind": "course", "key": "a", "title": "A"},
                {"kind": "course", "key": "boom", "title": "B"},
                {"kind": "course", "key": "c", "title": "C"},
            ]
        )
    )


@pytest.fixture
def refuse_boom(monkeypatch):
    """upsert_courses refuses every call naming the course `boom`; returns the calls' keys."""
    real_upsert, calls = catalog.upsert_courses, []

    def upsert(workspace, rows):
        calls.append(sorted(row["key"] for row in rows))
        if any(row["key"] == "boom" for row in rows):
            raise IntegrityError("simulated constraint violation")
        return real_upsert(workspace, rows)

    monkeypatch.setattr(catalog, "upsert_courses", upsert)
    return calls


def test_a_refused_batch_is_rolled_back_and_written_again_record_by_record(workspace, refuse_boom):
    report = ingest_records(workspace, records())

    # One try of the whole batch, one of the isolated chunk, then each course alone.
    assert refuse_boom == [["a", "boom", "c"], ["a", "boom", "c"], ["a"], ["boom"], ["c"]]
    assert report.errors == [RecordError(2, "", REFUSED)]
    # The user written by the first try was rolled back with it: the second try creates it again.
    assert report.summary() == {
        "user": {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0},
        "course": {"created": 2, "updated": 0, "unchanged": 0, "rejected": 1},
    }
    assert sorted(Course.objects.filter(workspace=workspace).values_list("key", flat=True)) == ["a", "c"]
    assert User.objects.filter(email="ada@example.com").count() == 1


def test_a_call_larger_than_a_chunk_is_written_isolated_chunk_by_chunk(workspace, refuse_boom):
    report = ingest_records(workspace, records(), chunk_size=2)

    # Courses in chunks of two: [a, boom] refused then retried alone, [c] written at once.
    assert refuse_boom == [["a", "boom"], ["a"], ["boom"], ["c"]]
    assert report.errors == [RecordError(2, "", REFUSED)]
    assert sorted(Course.objects.filter(workspace=workspace).values_list("key", flat=True)) == ["a", "c"]


def test_an_unreachable_database_is_raised_not_retried(workspace, monkeypatch):
    calls = []

    def unreachable(workspace, rows):
        calls.append(len(rows))
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(catalog, "upsert_courses", unreachable)

    with pytest.raises(OperationalError):
        ingest_records(workspace, records())

    assert calls == [3]
    assert not User.objects.filter(email="ada@example.com").exists()
