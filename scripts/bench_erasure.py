"""Timing of a learner's erasure (docs/privacy.md, "Erasure"): one learner with ~50k rows across
kinds in a generated workspace, erased by privacy.services.run_erasure. Prints the seconds, the
number of transactions and the longest single transaction (how long other writers to the same
rows may wait), then runs `rollups check` on the workspace (--no-check to skip).

    .venv/bin/python scripts/bench_erasure.py [--size medium] [--rows 50000]

Uses its own database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_erasure),
created, migrated and filled on the first run; each run adds a fresh target learner.
"""

import argparse
import os
import random
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.benchlib import configure_environment, create_database_if_missing  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_erasure"
WORKSPACE = "erasure-bench"
# The target's rows per kind, as shares of --rows.
SHARES = {
    "page_sessions": 0.3,
    "events": 0.36,
    "video_views": 0.16,
    "problem_responses": 0.14,
    "subsection_opens": 0.04,
}


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", help="generate_demo_data size of the workspace (first run)")
    parser.add_argument("--rows", type=int, default=50_000, help="rows of the erased learner (default 50,000)")
    parser.add_argument("--batch", type=int, default=None, help="rows per transaction (default: BATCH_SIZE)")
    parser.add_argument("--check", action=argparse.BooleanOptionalAction, default=True, help="rollups check after")
    return parser.parse_args()


def prepare_workspace(size):
    from django.core.management import call_command

    from courses.services.demo_data import generate_demo_data, workspace_has_courses

    call_command("migrate", verbosity=0)
    if not workspace_has_courses(WORKSPACE):
        started = time.monotonic()
        generate_demo_data(WORKSPACE, size, seed=7, progress=False, log=lambda line: None)
        print(f"generated {size} workspace {WORKSPACE!r} in {time.monotonic() - started:.0f} s")
    from accounts.models import Workspace

    return Workspace.objects.get(slug=WORKSPACE)


def add_target(workspace, rows):
    """A new learner enrolled in a few courses with `rows` rows of activity (through the
    writers that keep the rollups), spread over the last 300 days."""
    from accounts.models import Membership, Role, User
    from analytics.models import LearningEvent, PageSession, ProblemResponse, SubsectionOpen, VideoView
    from analytics.services.problem_rollups import record_problem_responses, record_subsection_opens
    from courses.models import Attempt, Course, Enrollment, Video
    from django.db import transaction
    from django.utils import timezone

    rng = random.Random()
    now = timezone.now()
    user = User.objects.create_user(f"target-{uuid.uuid4().hex[:8]}@{WORKSPACE}.example")
    Membership.objects.create(workspace=workspace, user=user, role=Role.LEARNER)
    courses = list(Course.objects.filter(workspace=workspace).order_by("?")[:5])
    videos = list(Video.objects.filter(course__in=courses))
    for course in courses:
        Enrollment.objects.create(workspace=workspace, user=user, course=course, enrolled_at=now - timedelta(days=300))
        Attempt.objects.create(workspace=workspace, user=user, course=course, progress=50, score=60)

    def moment():
        return now - timedelta(seconds=rng.randrange(300 * 86400))

    counts = {kind: int(rows * share) for kind, share in SHARES.items()}
    chunk = 5000
    with transaction.atomic():
        for start in range(0, counts["page_sessions"], chunk):
            PageSession.objects.bulk_create(
                [
                    PageSession(
                        workspace=workspace,
                        user=user,
                        course=(course := rng.choice(courses)),
                        course_key=course.key,
                        page="page",
                        path=f"/player/{course.key}",
                        started_at=moment(),
                        duration_s=rng.randrange(10, 600),
                    )
                    for _ in range(min(chunk, counts["page_sessions"] - start))
                ]
            )
        for start in range(0, counts["events"], chunk):
            LearningEvent.objects.bulk_create(
                [
                    LearningEvent(
                        workspace=workspace, user=user, course=rng.choice(courses), type="viewed", occurred_at=moment()
                    )
                    for _ in range(min(chunk, counts["events"] - start))
                ]
            )
        for start in range(0, counts["video_views"], chunk):
            VideoView.objects.bulk_create(
                [
                    VideoView(
                        workspace=workspace,
                        user=user,
                        video=(video := rng.choice(videos)),
                        course_id=video.course_id,
                        started_at=moment(),
                        watched_s=60,
                        position_s=60,
                    )
                    for _ in range(min(chunk, counts["video_views"] - start))
                ]
            )
        record_problem_responses(
            workspace.pk,
            [
                ProblemResponse(
                    workspace=workspace,
                    user=user,
                    course=rng.choice(courses),
                    problem_key=f"block-v1:bench+type@problem+block@{n % 400}",
                    part_id="part_2_1",
                    answer=rng.choice("ABCD"),
                    correct=rng.random() < 0.5,
                    grade=1.0,
                    max_grade=1.0,
                    submitted_at=moment(),
                )
                for n in range(counts["problem_responses"])
            ],
        )
        record_subsection_opens(
            workspace.pk,
            [
                SubsectionOpen(
                    workspace=workspace,
                    user=user,
                    course=rng.choice(courses),
                    subsection_key=f"block-v1:bench+type@sequential+block@{n % 200}",
                    opened_at=moment(),
                )
                for n in range(counts["subsection_opens"])
            ],
        )
    return user, sum(counts.values()) + 2 * len(courses)


def main():
    args = parse()
    configure_environment(DEFAULT_URL)
    create_database_if_missing(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.db import connection

    from analytics.rollups.check import check_rollups
    from privacy import services

    assert connection.vendor == "postgresql", "run on PostgreSQL"
    if args.batch:
        services.BATCH_SIZE = args.batch
    workspace = prepare_workspace(args.size)
    started = time.monotonic()
    user, rows = add_target(workspace, args.rows)
    print(f"target learner with {rows:,} rows added in {time.monotonic() - started:.1f} s")

    started = time.monotonic()
    subject = services.find_subject(workspace, email=user.email)
    job, _ = services.request_erasure(workspace, subject, "command:bench_erasure")
    report = services.run_erasure(job.pk, progress=lambda line: print(f"  {time.monotonic() - started:6.2f} s {line}"))
    seconds = time.monotonic() - started
    job.refresh_from_db()
    print(
        f"erasure: {seconds:.2f} s, {report.transactions} transactions, longest {report.longest_transaction_s:.3f} s"
        f" ({report.longest_step})"
    )
    print("counts:", dict(sorted(job.counts.items())))
    if args.check:
        started = time.monotonic()
        result = check_rollups(workspace.pk)
        print(f"rollups check: {'ok' if result.ok else 'DIFFERENCES'} ({time.monotonic() - started:.0f} s)")
        for each in result.rollups:
            if not each.ok:
                print(" ", each.name, [table.model for table in each.tables])


if __name__ == "__main__":
    main()
