"""Timings of per-course course-information staleness (docs/api/course_info.md, "Freshness").

Refreshes, then marks courses stale and times refresh_stale_courses for 1 and 20 courses, the full
rebuild, and reads of one course while another is stale. Writes only the rollups and their marks:

    DATABASE_URL=postgres://.../DB DJANGO_SETTINGS_MODULE=config.settings PYTHONPATH=. \
        .venv/bin/python scripts/bench_course_staleness.py
"""

import random
import statistics
import time
from datetime import timedelta

import django

django.setup()
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from analytics.queries import course_info as q  # noqa: E402
from analytics.services import course_info_rollups as r  # noqa: E402
from courses.models import Course  # noqa: E402


def timed(job, runs=1):
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        job()
        out.append(time.perf_counter() - started)
    return statistics.median(out), max(out)


courses = list(Course.objects.annotate(n=Count("enrollments")).order_by("-n").values_list("pk", "n"))
print("courses", len(courses), "head enrollments", courses[0][1], "median", courses[len(courses) // 2][1])
head = courses[0][0]
now = timezone.now()
r.refresh_stale_courses(now)
print("full rebuild_course_info: median %.2f s, max %.2f s" % timed(lambda: r.rebuild_course_info(now=now), 2))
print("full history rebuild: %.2f s" % timed(r.rebuild_course_activity_history)[0])


def refresh(ids):
    r.record_course_changes(ids)
    return r.refresh_stale_courses(now)


rng = random.Random(1)
for label, ids in (
    ("1 head course", [head]),
    ("1 median course", [courses[len(courses) // 2][0]]),
    ("20 random courses", rng.sample([c for c, _ in courses], 20)),
    ("20 biggest courses", [c for c, _ in courses[:20]]),
):
    runs = []
    for _ in range(3):
        r.record_course_changes(ids)
        started = time.perf_counter()
        result = r.refresh_stale_courses(now)
        runs.append(time.perf_counter() - started)
        assert result["courses"] == len(ids), result
    print(f"refresh_stale_courses, {label}: median {statistics.median(runs):.3f} s, max {max(runs):.3f} s")

# A read of course A while course B is stale.
a, b = courses[1][0], head
course_a = Course.objects.get(pk=a)
today = now.date()
reads = [
    (
        "enrollment/mode last 30 days",
        lambda raw: q.course_enrollment_by_mode(course_a, today - timedelta(days=30), None, today, from_raw=raw),
    ),
    (
        "activity last 12 weeks",
        lambda raw: q.course_activity_by_week(course_a, now - timedelta(days=84), None, now, from_raw=raw),
    ),
    ("videos", lambda raw: q.course_videos(course_a, from_raw=raw)),
]
r.record_course_changes([b])
assert q.course_info_sources([a, b]) == {a: q.ROLLUP, b: q.RAW}
for name, read in reads:
    rollup = timed(lambda: read(None), 30)
    raw = timed(lambda: read(True), 10)
    print(
        f"read of A ({name}) while B stale: chosen path {rollup[0] * 1000:.1f} ms median; raw path {raw[0] * 1000:.1f} ms median"
    )
r.refresh_stale_courses(now)
print("stale after cleanup:", len(q.stale_course_ids([c for c, _ in courses])))
