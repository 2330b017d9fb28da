"""Locust users of the load test (scripts/loadtest.py starts them; see docs/reliability.md).

Each user sends, back to back with no think time (as the benchmark's clients do), a mix of
tracking writes (batches of new page sessions) and reads of four API families. Every tracking item
has a new id and the run's own path, so that the items stored can be counted afterwards; the items
whose batch was acknowledged (200 and `accepted` = the batch) are written to LOADTEST_RESULT when
locust stops.

Configuration (environment): LOADTEST_API_KEY (admin key), LOADTEST_PATH (the run's page path),
LOADTEST_EMAILS, LOADTEST_COURSES, LOADTEST_VIDEOS (comma-separated), LOADTEST_BATCH (items per
tracking request, default 10), LOADTEST_RESULT (a JSON file).
"""

import json
import os
import random
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from locust import HttpUser, constant, events, task

API_KEY = os.environ["LOADTEST_API_KEY"]
RUN_PATH = os.environ["LOADTEST_PATH"]
EMAILS = os.environ["LOADTEST_EMAILS"].split(",")
COURSES = os.environ["LOADTEST_COURSES"].split(",")
VIDEOS = os.environ["LOADTEST_VIDEOS"].split(",")
BATCH = int(os.environ.get("LOADTEST_BATCH", "10"))
TOTALS = {"items_sent": 0, "items_acknowledged": 0, "batches_sent": 0, "batches_acknowledged": 0}


class ApiClient(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.client.headers.update({"Authorization": f"Api-Key {API_KEY}"})

    @task(4)
    def track_page_sessions(self):
        now = datetime.now(timezone.utc)
        items = [
            {
                "id": str(uuid.uuid4()),
                "user": random.choice(EMAILS),
                "page": "Course Player",
                "path": RUN_PATH,
                "startedAt": (now - timedelta(seconds=index)).isoformat(),
                "duration": random.randint(1, 600),
            }
            for index in range(BATCH)
        ]
        TOTALS["items_sent"] += len(items)
        TOTALS["batches_sent"] += 1
        with self.client.post(
            "/api/track/page-sessions", json=items, name="POST /api/track/page-sessions", catch_response=True
        ) as response:
            if response.status_code == 200 and response.json().get("accepted") == len(items):
                TOTALS["items_acknowledged"] += len(items)
                TOTALS["batches_acknowledged"] += 1
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task
    def videocloud_summary(self):
        self.client.get("/analytics/videos/summary?period=30d", name="GET /analytics/videos/summary")

    @task
    def videocloud_video(self):
        self.client.get(
            f"/analytics/videos/{quote(random.choice(VIDEOS))}?period=30d", name="GET /analytics/videos/{id}"
        )

    @task
    def course_stats(self):
        self.client.get("/api/v2/courses/stats", headers={"360-api-version": "v2.0"}, name="GET /api/v2/courses/stats")

    @task
    def course_enrollment(self):
        course = quote(random.choice(COURSES), safe=":+")
        self.client.get(f"/api/v0/courses/{course}/enrollment/", name="GET /api/v0/courses/{id}/enrollment/")

    @task
    def analyse_groups(self):
        self.client.get("/analyse/groups", name="GET /analyse/groups")


@events.quitting.add_listener
def write_totals(environment, **kwargs):
    """The tracking totals and every endpoint's final statistics (the CSV files lag behind)."""
    path = os.environ.get("LOADTEST_RESULT")
    if not path:
        return
    entries = [*environment.stats.entries.values(), environment.stats.total]
    endpoints = [
        {
            "name": entry.name,
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.5),
            "p95_ms": entry.get_response_time_percentile(0.95),
            "p99_ms": entry.get_response_time_percentile(0.99),
            "requests_per_s": round(entry.total_rps, 2),
        }
        for entry in entries
    ]
    with open(path, "w") as result:
        json.dump({**TOTALS, "endpoints": endpoints}, result)
