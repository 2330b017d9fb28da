"""A database that cannot be reached answers 503 with Retry-After in each family's envelope, never
a 500, and a tracking batch re-sent after a 503 (or after a lost answer) is stored once.

The outage is made with Django's connection.execute_wrapper: every query (or every INSERT) raises
the OperationalError psycopg raises when the server is gone. The real restart of a PostgreSQL
server under load is scripts/drill.py (make drill)."""

import uuid
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection

from accounts.models import Role
from analytics.models import PageSession
from tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

REFUSED = 'connection to server at "127.0.0.1", port 5432 failed: Connection refused'


@contextmanager
def database_down(only=None):
    """Every query (or those whose SQL starts with `only`) fails as with a stopped server."""

    def refuse(execute, sql, params, many, context):
        if only is None or sql.lstrip().upper().startswith(only):
            raise OperationalError(REFUSED)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


def assert_503_with_retry_after(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "5432" not in response.content.decode(), "the database's message must stay in the log"


def session_items(count):
    return [
        {
            "id": str(uuid.uuid4()),
            "page": "Course Player",
            "path": "/player/x",
            "startedAt": "2026-03-01T09:30:00Z",
            "duration": 10 + index,
        }
        for index in range(count)
    ]


def test_tracking_answers_503_with_retry_after_when_the_database_is_down(learner, bearer_client, workspace):
    client = bearer_client(learner, workspace)
    items = session_items(3)

    with database_down():
        response = client.post("/api/track/page-sessions", items, format="json")

    assert_503_with_retry_after(response)
    assert response.json() == {"detail": "The database is briefly unavailable; retry after the delay in Retry-After."}


def test_tracking_batch_resent_after_503_and_after_a_lost_answer_is_stored_once(learner, bearer_client, workspace):
    client = bearer_client(learner, workspace)
    items = session_items(4)

    with database_down(only="INSERT"):
        failed = client.post("/api/track/page-sessions", items, format="json")
    stored_after_failure = PageSession.objects.filter(user=learner).count()
    retried = client.post("/api/track/page-sessions", items, format="json")
    # The answer to `retried` may be lost on the way back: the client sends the batch once more.
    resent = client.post("/api/track/page-sessions", items, format="json")

    assert failed.status_code == 503
    assert stored_after_failure == 0
    assert (retried.status_code, retried.json()["created"]) == (200, 4)
    assert (resent.status_code, resent.json()["created"], resent.json()["unchanged"]) == (200, 0, 4)
    assert sorted(PageSession.objects.filter(user=learner).values_list("duration_s", flat=True)) == [10, 11, 12, 13]


def test_videocloud_family_answers_503_in_its_envelope(workspace, api_key_client):
    client = api_key_client(workspace, Role.ADMIN)

    with database_down():
        response = client.get("/analytics/videos/summary", {"period": "7d"})

    assert_503_with_retry_after(response)
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "ANALYTICS_SERVICE_UNAVAILABLE"


def test_360learning_family_answers_503_in_its_envelope(workspace, api_key_client):
    client = api_key_client(workspace, Role.ADMIN)

    with database_down():
        response = client.get("/api/v2/courses/stats", headers={"360-api-version": "v2.0"})

    assert_503_with_retry_after(response)
    assert response.json()["error"]["code"] == "serviceUnavailable"


def test_skillrise_family_answers_503_in_its_envelope(learner, bearer_client, workspace):
    client = bearer_client(learner, workspace)

    with database_down():
        response = client.get("/api/user/analytics")

    assert_503_with_retry_after(response)
    assert response.json() == {
        "success": False,
        "message": "The database is briefly unavailable; retry after the delay in Retry-After.",
    }


def test_dashboard_page_answers_503_text_not_a_500_page(client, admin_user, workspace):
    course = CourseFactory(workspace=workspace)
    client.force_login(admin_user)

    with database_down():
        response = client.get(f"/dashboards/courses/{course.key}/")

    assert_503_with_retry_after(response)
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "The service is briefly unavailable. Please retry in a few seconds."


def test_integrity_errors_are_not_mistaken_for_an_outage():
    from django.db import IntegrityError

    from config.availability import is_database_unavailable

    assert is_database_unavailable(OperationalError("server closed the connection unexpectedly"))
    assert not is_database_unavailable(IntegrityError("duplicate key value"))
