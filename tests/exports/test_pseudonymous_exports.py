"""Pseudonymous exports: in every format the file holds no learner's email or name, only keyed
hashes that are stable within a workspace and differ across workspaces."""

import csv
import hashlib
import hmac
import io
import json

import openpyxl
import pyarrow.parquet as pq
import pytest
from django.utils.crypto import salted_hmac
from rest_framework.test import APIClient

from accounts.models import Role
from exports.models import ExportJob
from tests.factories import AttemptFactory, CourseFactory, LearningEventFactory

pytestmark = pytest.mark.django_db

FORMATS = ["csv", "json", "xlsx", "parquet"]


def expected_pseudonym(workspace, kind, value):
    """An independent recount of the documented rule."""
    key = salted_hmac("exports.pseudonyms", f"workspace:{workspace.pk}").digest()
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"{digest}@pseudonymous.invalid" if kind == "email" else f"pseudo-{digest}"


def read_rows(export_format, content):
    if export_format == "csv":
        return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    if export_format == "json":
        return json.loads(content)
    if export_format == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
        header, *values = list(sheet.iter_rows(values_only=True))
        return [dict(zip(header, row)) for row in values]
    return pq.read_table(io.BytesIO(content)).to_pylist()


def export(client, callbacks, export_type, export_format, **options):
    with callbacks(execute=True):
        created = client.post(
            "/analytics/export",
            {"type": export_type, "period": "7d", "format": export_format, **options},
            format="json",
        )
    assert created.status_code == 202, created.content
    data = client.get(f"/analytics/export/{created.json()['data']['exportId']}").json()["data"]
    assert data["status"] == "completed", data
    content = b"".join(APIClient().get(data["downloadUrl"]).streaming_content)
    return data, content


@pytest.fixture
def world(workspace, make_member):
    learner = make_member(
        workspace, Role.LEARNER, email="ada.lovelace@example.org", first_name="Ada", last_name="Lovelace"
    )
    course = CourseFactory(workspace=workspace, key="course-v1:Acme+Priv+1", title="Privacy")
    AttemptFactory(course=course, user=learner)
    LearningEventFactory(course=course, user=learner)
    return learner


@pytest.mark.parametrize("export_format", FORMATS)
@pytest.mark.parametrize("export_type", ["results", "events"])
def test_pseudonymous_export_holds_no_email_or_name(
    workspace, world, api_key_client, django_capture_on_commit_callbacks, export_type, export_format
):
    client = api_key_client(workspace)
    data, content = export(client, django_capture_on_commit_callbacks, export_type, export_format, pseudonymize=True)

    assert data["pseudonymize"] is True
    assert ExportJob.objects.get(public_id=data["exportId"]).pseudonymize is True
    rows = read_rows(export_format, content)
    assert len(rows) == 1
    text = json.dumps(rows, default=str).lower()
    for secret in ("ada.lovelace@example.org", "example.org", "lovelace"):  # not hex digits
        assert secret not in text
    assert not any(str(value).startswith("Ada") for value in rows[0].values())
    if export_format in ("csv", "json"):  # the raw bytes too
        assert b"lovelace" not in content.lower()
    assert rows[0]["userEmail"] == expected_pseudonym(workspace, "email", "ada.lovelace@example.org")
    if export_type == "results":
        assert rows[0]["userName"] == expected_pseudonym(workspace, "name", "Ada Lovelace")


def test_plain_export_keeps_the_email(workspace, world, api_key_client, django_capture_on_commit_callbacks):
    data, content = export(api_key_client(workspace), django_capture_on_commit_callbacks, "events", "csv")

    assert data["pseudonymize"] is False
    assert read_rows("csv", content)[0]["userEmail"] == "ada.lovelace@example.org"


def test_workspace_default_applies_and_the_body_overrides_it(
    workspace, world, api_key_client, django_capture_on_commit_callbacks
):
    workspace.pseudonymize_exports = True
    workspace.save()
    client = api_key_client(workspace)

    by_default, content = export(client, django_capture_on_commit_callbacks, "events", "json")
    assert by_default["pseudonymize"] is True
    assert json.loads(content)[0]["userEmail"].endswith("@pseudonymous.invalid")

    opted_out, content = export(client, django_capture_on_commit_callbacks, "events", "json", pseudonymize=False)
    assert opted_out["pseudonymize"] is False
    assert json.loads(content)[0]["userEmail"] == "ada.lovelace@example.org"


def test_pseudonyms_are_stable_within_a_workspace_and_differ_across(
    workspace, other_workspace, world, make_member, api_key_client, django_capture_on_commit_callbacks
):
    # The same person is a member of the other workspace too, with their own event there.
    from accounts.models import Membership

    Membership.objects.create(user=world, workspace=other_workspace, role=Role.LEARNER)
    LearningEventFactory(course=CourseFactory(workspace=other_workspace), user=world)

    first = export(api_key_client(workspace), django_capture_on_commit_callbacks, "events", "json", pseudonymize=True)
    second = export(api_key_client(workspace), django_capture_on_commit_callbacks, "events", "json", pseudonymize=True)
    other = export(
        api_key_client(other_workspace), django_capture_on_commit_callbacks, "events", "json", pseudonymize=True
    )

    here = [json.loads(content)[0]["userEmail"] for _, content in (first, second)]
    there = json.loads(other[1])[0]["userEmail"]
    assert here[0] == here[1] == expected_pseudonym(workspace, "email", "ada.lovelace@example.org")
    assert there == expected_pseudonym(other_workspace, "email", "ada.lovelace@example.org")
    assert there != here[0]


def test_pseudonymize_must_be_a_boolean(workspace, world, api_key_client):
    response = api_key_client(workspace).post(
        "/analytics/export", {"type": "events", "pseudonymize": "perhaps"}, format="json"
    )

    assert response.status_code == 400
    assert "pseudonymize" in response.content.decode()
