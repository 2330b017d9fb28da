"""The request-metrics middleware: what it records, when the buffer reaches the database, its cost."""

import importlib
import logging
import time

import pytest
from django.db import DatabaseError
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import resolve

from analytics import middleware
from analytics.models import RequestMetric
from analytics.services.request_metrics import RequestMetricRecorder, path_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorder(settings, monkeypatch):
    """A fresh recorder behind the middleware, writing inline (no thread) unless a test says so."""
    settings.REQUEST_METRICS_ENABLED = True
    settings.REQUEST_METRICS_BACKGROUND = False
    settings.REQUEST_METRICS_BATCH_SIZE = 1
    settings.REQUEST_METRICS_FLUSH_SECONDS = 3600
    fresh = RequestMetricRecorder()
    monkeypatch.setattr(middleware, "recorder", fresh)
    yield fresh
    fresh.discard()


def test_records_path_template_method_status_latency_and_workspace(recorder, workspace, api_key_client):
    api_key_client(workspace).get("/analytics/videos/vid_9?period=7d")

    row = RequestMetric.objects.get()
    assert (row.endpoint, row.method, row.status, row.workspace_id) == (
        "/analytics/videos/{id}",
        "GET",
        404,
        workspace.pk,
    )
    assert 0 < row.latency_ms < 10_000


def test_unauthenticated_request_has_no_workspace(recorder, api_client):
    api_client.get("/analytics/users")

    row = RequestMetric.objects.get()
    assert (row.endpoint, row.status, row.workspace_id) == ("/analytics/users", 401, None)


def test_api_path_matching_no_pattern_is_recorded_as_unmatched(recorder, api_client):
    api_client.post("/api/no-such-thing/42")

    assert list(RequestMetric.objects.values_list("endpoint", "method", "status")) == [("<unmatched>", "POST", 404)]


@pytest.mark.parametrize("path", ["/accounts/login/", "/static/css/dashboard.css", "/dashboard/"])
def test_non_api_paths_are_not_recorded(recorder, client, path):
    client.get(path)

    assert recorder.pending() == 0
    assert RequestMetric.objects.count() == 0


def test_nothing_is_recorded_when_disabled(recorder, settings, api_client):
    settings.REQUEST_METRICS_ENABLED = False

    api_client.get("/api/health/")

    assert recorder.pending() == 0
    assert RequestMetric.objects.count() == 0


def test_rows_wait_in_memory_until_the_batch_is_full(recorder, settings, api_client):
    settings.REQUEST_METRICS_BATCH_SIZE = 3
    api_client.get("/api/health/")
    api_client.get("/api/health/")

    assert (recorder.pending(), RequestMetric.objects.count()) == (2, 0)

    api_client.get("/api/health/")

    assert (recorder.pending(), RequestMetric.objects.count()) == (0, 3)


def test_rows_are_written_once_the_interval_has_passed(recorder, settings, api_client):
    settings.REQUEST_METRICS_BATCH_SIZE = 1000
    settings.REQUEST_METRICS_FLUSH_SECONDS = 0

    api_client.get("/api/health/")

    assert (recorder.pending(), RequestMetric.objects.count()) == (0, 1)


def test_flush_writes_what_is_left(recorder, settings, api_client):
    settings.REQUEST_METRICS_BATCH_SIZE = 1000
    api_client.get("/api/health/")
    api_client.get("/api/health/")

    assert recorder.flush() == 2
    assert RequestMetric.objects.filter(endpoint="/api/health/", status=200).count() == 2


def test_database_error_drops_the_batch_with_a_warning(recorder, settings, api_client, monkeypatch, caplog):
    settings.REQUEST_METRICS_BATCH_SIZE = 1000
    api_client.get("/api/health/")

    def failing_bulk_create(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(RequestMetric.objects, "bulk_create", failing_bulk_create)
    with caplog.at_level(logging.WARNING, logger="analytics.services.request_metrics"):
        assert recorder.flush() == 0

    assert recorder.pending() == 0
    assert "Dropped 1 request metrics: disk full" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_background_thread_writes_the_batch(recorder, settings, workspace, api_key_client):
    settings.REQUEST_METRICS_BACKGROUND = True
    settings.REQUEST_METRICS_BATCH_SIZE = 2
    settings.REQUEST_METRICS_FLUSH_SECONDS = 3600
    client = api_key_client(workspace)
    client.get("/api/health/")
    client.get("/analytics/users")

    deadline = time.monotonic() + 10
    while RequestMetric.objects.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert sorted(RequestMetric.objects.values_list("endpoint", flat=True)) == ["/analytics/users", "/api/health/"]
    assert recorder.pending() == 0


def test_middleware_adds_far_less_than_a_millisecond(recorder, settings):
    """The middleware's own work (timing, route lookup, buffering) per request, without the
    database write that happens once per batch."""
    settings.REQUEST_METRICS_BATCH_SIZE = 10**9
    request = RequestFactory().get("/analytics/videos/vid_1")
    request.resolver_match = resolve("/analytics/videos/vid_1")
    response = HttpResponse()

    def view(request):
        return response

    instrumented = middleware.RequestMetricsMiddleware(view)
    calls = 2000

    started = time.perf_counter()
    for _ in range(calls):
        instrumented(request)
    with_middleware = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(calls):
        view(request)
    without = time.perf_counter() - started

    overhead_ms = (with_middleware - without) / calls * 1000
    assert recorder.pending() == calls
    assert overhead_ms < 1.0


@pytest.mark.parametrize(
    ("route", "template"),
    [
        ("/analytics/videos/<str:id>", "/analytics/videos/{id}"),
        ("/analytics/export/<str:export_id>/download", "/analytics/export/{export_id}/download"),
        ("/api/v0/courses/<course_id>/activity/", "/api/v0/courses/{course_id}/activity/"),
        ("/analytics/users", "/analytics/users"),
    ],
)
def test_endpoint_is_a_readable_path_template(route, template):
    assert path_template(route) == template


def test_migration_rewrites_recorded_route_patterns_as_path_templates(workspace):
    from django.apps import apps

    migration = importlib.import_module("analytics.migrations.0014_health_checks")
    for endpoint in (
        "/analytics/videos/<str:video_key>",
        "/api/v0/courses/<course_id>/",
        "<unmatched>",
        "/analytics/users",
    ):
        RequestMetric.objects.create(workspace=workspace, method="GET", endpoint=endpoint, status=200, latency_ms=1)

    migration.endpoints_as_path_templates(apps, None)

    assert sorted(RequestMetric.objects.values_list("endpoint", flat=True)) == [
        "/analytics/users",
        "/analytics/videos/{id}",
        "/api/v0/courses/{course_id}/",
        "<unmatched>",
    ]
