"""Landing, login, admin and API docs pages."""

import pytest
from django.urls import reverse

from accounts.models import Role
from tests.factories import (
    AttemptFactory,
    CourseFactory,
    EnrollmentFactory,
    LearningEventFactory,
    PageSessionFactory,
    UserFactory,
    VideoViewFactory,
)

pytestmark = pytest.mark.django_db


def test_visitor_is_sent_to_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")


@pytest.mark.parametrize(
    ("role", "destination"),
    [
        (Role.LEARNER, "learner_dashboard"),
        (Role.INSTRUCTOR, "workspace_dashboard"),
        (Role.ADMIN, "workspace_dashboard"),
    ],
)
def test_member_is_sent_to_the_dashboard_of_their_role(client, workspace, make_member, role, destination):
    client.force_login(make_member(workspace, role))

    response = client.get("/")

    assert response["Location"] == reverse(destination)


def test_login_form_signs_in_by_email(client, learner, password):
    response = client.post(reverse("account_login"), {"login": "learner@acme.test", "password": password})

    assert response.status_code == 302
    assert client.get("/")["Location"] == reverse("learner_dashboard")


def test_login_form_rejects_wrong_password(client, learner):
    response = client.post(reverse("account_login"), {"login": "learner@acme.test", "password": "nope"})

    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_signup_is_closed_by_default(client):
    response = client.get(reverse("account_signup"))

    assert "closed" in response.content.decode().lower()


def test_openapi_schema_is_public_and_lists_the_credentials_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "/api/me/" in response.json()["paths"]


def test_api_docs_page_loads_assets_from_static(client):
    html = client.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(email="root@acme.test", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "model_path",
    [
        "accounts/workspace",
        "accounts/user",
        "accounts/membership",
        "accounts/learnergroup",
        "accounts/customfield",
        "accounts/customfieldvalue",
        "accounts/apikey",
        "courses/course",
        "courses/chapter",
        "courses/video",
        "courses/enrollment",
        "courses/attempt",
        "analytics/pagesession",
        "analytics/learningevent",
        "analytics/videoview",
        "analytics/videoreaction",
        "analytics/requestmetric",
        "analytics/xapistatement",
    ],
)
def test_admin_changelist_of_every_model_loads(superuser_client, workspace, model_path):
    course = CourseFactory(workspace=workspace)
    user = UserFactory()
    EnrollmentFactory(course=course, user=user)
    AttemptFactory(course=course, user=user)
    PageSessionFactory(workspace=workspace, user=user)
    LearningEventFactory(course=course, user=user)
    VideoViewFactory(video__course=course, user=user)

    response = superuser_client.get(f"/admin/{model_path}/")

    assert response.status_code == 200


def test_admin_changelist_query_count_does_not_grow_with_rows(
    superuser_client, workspace, django_assert_max_num_queries
):
    course = CourseFactory(workspace=workspace)
    for _ in range(30):
        EnrollmentFactory(course=course)

    with django_assert_max_num_queries(12):
        superuser_client.get("/admin/courses/enrollment/")


def test_behaviour_data_is_read_only_in_admin(superuser_client, workspace):
    session = PageSessionFactory(workspace=workspace)

    assert superuser_client.get("/admin/analytics/pagesession/add/").status_code == 403
    response = superuser_client.post(f"/admin/analytics/pagesession/{session.pk}/change/", {"duration_s": 1})
    assert response.status_code == 403
