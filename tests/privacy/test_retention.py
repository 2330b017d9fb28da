"""Retention of raw activity: prune_activity deletes raw rows before the workspace's horizon, in
batches, and every rollup-backed answer stays the same for the periods the rollups cover."""

from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import Role
from analytics.models import CourseActivityWeek, LearnerDay, LearningEvent, PageSession, VideoView, WorkspaceDay
from analytics.rollups.check import check_rollups, rebuild_rollups
from analytics.services.retention import horizon_for, prune_activity
from tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LearningEventFactory,
    PageSessionFactory,
    VideoFactory,
    VideoViewFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
DAYS_AGO = (60, 40, 31, 29, 3)  # retention 30: the first three are before the horizon
KEY = "course-v1:Acme+Keep+1"


def activity(workspace, users, course, video):
    for user in users:
        for days in DAYS_AGO:
            at = NOW - timedelta(days=days)
            PageSessionFactory(workspace=workspace, user=user, started_at=at, course=course, duration_s=120)
            LearningEventFactory(course=course, user=user, occurred_at=at, type="attempted_problem")
            VideoViewFactory(video=video, user=user, started_at=at, watched_s=30)


@pytest.fixture
def world(workspace, other_workspace, make_member):
    learners = [make_member(workspace, Role.LEARNER, email=f"l{i}@example.org") for i in range(2)]
    course = CourseFactory(workspace=workspace, key=KEY)
    video = VideoFactory(course=course, key="keep-video")
    for learner in learners:
        EnrollmentFactory(course=course, user=learner)
    activity(workspace, learners, course, video)
    # Another workspace with the same kind of rows and no retention: never touched.
    other_learner = make_member(other_workspace, Role.LEARNER, email="o@example.org")
    other_course = CourseFactory(workspace=other_workspace, key="course-v1:Other+Keep+1")
    activity(other_workspace, [other_learner], other_course, VideoFactory(course=other_course, key="other-video"))
    rebuild_rollups()  # every rollup holds the raw rows before the prune
    workspace.raw_activity_retention_days = 30
    workspace.save()
    return learners


def raw_counts(workspace):
    return {
        m.__name__: m._base_manager.filter(workspace=workspace).count() for m in (PageSession, LearningEvent, VideoView)
    }


def rollup_rows(workspace):
    return {
        "LearnerDay": sorted(
            LearnerDay.objects.filter(workspace=workspace).values_list(
                "user_id", "day", "page_sessions", "events", "video_views"
            )
        ),
        "WorkspaceDay": sorted(
            WorkspaceDay.objects.filter(workspace=workspace).values_list(
                "day", "page_sessions", "video_views", "watch_seconds"
            )
        ),
        "CourseActivityWeek": sorted(
            CourseActivityWeek.objects.filter(course__workspace=workspace).values_list(
                "week_start", "any", "attempted_problem", "played_video"
            )
        ),
    }


AGGREGATE_URLS = (
    "/analytics/users?period=90d",
    "/analytics/users/engagement?period=90d",
    f"/api/v0/courses/{KEY}/activity/",
    f"/api/v0/courses/{KEY}/enrollment/",
    f"/api/v0/courses/{KEY}/videos/",
)


def answers(client):
    found = {}
    for url in AGGREGATE_URLS:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        found[url] = _without_created(response.json())
    return found


def _without_created(value):
    """Open edX rows carry `created`, when the rollup row was written (a rebuild restamps it)."""
    if isinstance(value, list):
        return [_without_created(each) for each in value]
    if isinstance(value, dict):
        return {key: _without_created(each) for key, each in value.items() if key != "created"}
    return value


def test_horizon_is_a_utc_day_boundary():
    assert horizon_for(30, NOW) == datetime.combine(
        (NOW - timedelta(days=30)).date(), datetime.min.time(), timezone.utc
    )
    assert horizon_for(None, NOW) is None


def test_prune_deletes_only_rows_before_the_horizon_in_batches(workspace, other_workspace, world):
    other_before = raw_counts(other_workspace)
    assert raw_counts(workspace) == {"PageSession": 10, "LearningEvent": 10, "VideoView": 10}

    seen = []
    [result] = prune_activity(now=NOW, batch_size=4, progress=lambda label, rows: seen.append((label, rows)))

    # 2 learners x 3 days before the horizon (60, 40, 31 days ago) = 6 rows of each kind.
    assert result.deleted == {"analytics.PageSession": 6, "analytics.LearningEvent": 6, "analytics.VideoView": 6}
    assert result.batches == 6  # 4 + 2 rows per kind
    assert seen[:2] == [("analytics.PageSession", 4), ("analytics.PageSession", 6)]
    assert raw_counts(workspace) == {"PageSession": 4, "LearningEvent": 4, "VideoView": 4}
    assert raw_counts(other_workspace) == other_before == {"PageSession": 5, "LearningEvent": 5, "VideoView": 5}
    workspace.refresh_from_db()
    assert workspace.raw_activity_pruned_before == horizon_for(30, NOW)


def test_dry_run_deletes_nothing(workspace, world):
    out = []
    call_command("prune_activity", "--workspace", workspace.slug, "--dry-run", stdout=_Lines(out))

    assert raw_counts(workspace) == {"PageSession": 10, "LearningEvent": 10, "VideoView": 10}
    assert "would delete 18 rows" in "".join(out)


class _Lines:
    def __init__(self, out):
        self.out = out

    def write(self, text):
        self.out.append(text)

    def flush(self):
        pass


def test_rollups_and_aggregate_answers_are_identical_after_pruning(workspace, world, api_key_client):
    client = api_key_client(workspace)
    rows_before, answers_before = rollup_rows(workspace), answers(client)
    assert len(rows_before["LearnerDay"]) == 10

    prune_activity(now=NOW)

    assert raw_counts(workspace)["PageSession"] == 4
    assert rollup_rows(workspace) == rows_before
    assert answers(client) == answers_before
    # A rebuild from the raw rows keeps the history before the horizon, and the check is clean.
    assert check_rollups(workspace.pk).ok
    rebuild_rollups(workspace.pk)
    rebuild_rollups()
    assert rollup_rows(workspace) == rows_before
    assert answers(client) == answers_before
    assert check_rollups().ok


def test_learner_api_totals_of_raw_page_sessions_end_at_the_horizon(workspace, world, bearer_client):
    # The learner API's totals and page list read the raw page sessions (docs/privacy.md): after
    # the prune they count the 2 sessions of 120 s left (29 and 3 days ago), not the 5.
    client = bearer_client(world[0], workspace)
    before = client.get("/api/user/analytics").json()["analytics"]
    assert (before["totalSessions"], before["totalDuration"]) == (5, 600)

    prune_activity(now=NOW)

    after = client.get("/api/user/analytics").json()["analytics"]
    assert (after["totalSessions"], after["totalDuration"]) == (2, 240)


def test_video_summary_totals_stay_and_per_video_answers_end_at_the_horizon(workspace, world, api_key_client):
    client = api_key_client(workspace)
    before = client.get("/analytics/videos/summary?period=90d").json()["data"]
    assert (before["totalViews"], before["totalWatchTime"], before["topVideos"][0]["views"]) == (10, 300, 10)

    prune_activity(now=NOW)

    after = client.get("/analytics/videos/summary?period=90d").json()["data"]
    # Totals come from the workspace-day rollup and the top videos from the video-day rollup:
    # both unchanged. The single video's figures read the raw views left: 2 learners x 2 days
    # after the horizon.
    assert (after["totalViews"], after["totalWatchTime"]) == (10, 300)
    assert (after["topVideos"][0]["views"], after["topVideos"][0]["watchTime"]) == (10, 300)
    video = client.get("/analytics/videos/keep-video?period=90d").json()["data"]["views"]
    assert (video["total"], video["unique"]) == (4, 2)


def test_workspace_without_retention_is_not_pruned(workspace, world):
    workspace.raw_activity_retention_days = None
    workspace.save()

    assert prune_activity(now=NOW) == []
    [result] = prune_activity(workspace.slug, now=NOW)
    assert result.skipped == "no retention set"
    assert raw_counts(workspace)["VideoView"] == 10


def test_settings_endpoint_reads_and_changes_the_retention(workspace, other_workspace, api_key_client):
    client = api_key_client(workspace)
    assert client.get("/api/workspace/settings").json() == {
        "rawActivityRetentionDays": None,
        "pseudonymizeExports": False,
        "rawActivityPrunedBefore": None,
    }

    changed = client.patch(
        "/api/workspace/settings", {"rawActivityRetentionDays": 90, "pseudonymizeExports": True}, format="json"
    )

    assert changed.status_code == 200, changed.content
    workspace.refresh_from_db()
    other_workspace.refresh_from_db()
    assert (workspace.raw_activity_retention_days, workspace.pseudonymize_exports) == (90, True)
    assert (other_workspace.raw_activity_retention_days, other_workspace.pseudonymize_exports) == (None, False)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"rawActivityRetentionDays": 3}, "rawActivityRetentionDays"),
        ({"rawActivityRetentionDays": "soon"}, "rawActivityRetentionDays"),
        ({"pseudonymizeExports": "maybe"}, "pseudonymizeExports"),
        ({"retention": 30}, "retention"),
    ],
)
def test_settings_endpoint_refuses_bad_values_naming_the_field(workspace, api_key_client, body, field):
    response = api_key_client(workspace).patch("/api/workspace/settings", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    workspace.refresh_from_db()
    assert workspace.raw_activity_retention_days is None


def test_settings_endpoint_is_for_admins(workspace, api_key_client):
    assert api_key_client(workspace, Role.INSTRUCTOR).get("/api/workspace/settings").status_code == 403
    assert APIClient().get("/api/workspace/settings").status_code in (401, 403)


def test_retention_and_pseudonymize_default_are_on_the_workspace_admin(workspace, client, django_user_model):
    staff = django_user_model.objects.create_superuser(email="root@example.org", password="pw-123456789")
    client.force_login(staff)

    page = client.get(f"/admin/accounts/workspace/{workspace.pk}/change/").content.decode()

    assert 'name="raw_activity_retention_days"' in page
    assert 'name="pseudonymize_exports"' in page


def test_daily_beat_runs_the_prune_task(workspace, world, settings):
    from analytics.tasks import prune_activity as task

    entry = settings.CELERY_BEAT_SCHEDULE["prune-activity"]
    assert (entry["task"], entry["schedule"]) == ("analytics.tasks.prune_activity", 24 * 3600)
    # The task prunes with today's horizon: rows 60, 40 and 31 days ago (before noon today) go.
    assert task() == {workspace.slug: 18}


def test_a_workspace_whose_course_rollups_stay_stale_is_not_pruned(workspace, world, monkeypatch):
    from analytics.services import retention

    monkeypatch.setattr(retention, "_rollups_hold", lambda workspace: False)

    [result] = prune_activity(now=NOW)

    assert result.skipped == "course information rollups still stale"
    assert raw_counts(workspace) == {"PageSession": 10, "LearningEvent": 10, "VideoView": 10}


def test_dashboard_activity_trend_is_identical_after_pruning(workspace, world):
    from analytics.definitions import resolve_period
    from analytics.queries.dashboards import active_learners_trend

    before = active_learners_trend(workspace, resolve_period("90d", NOW))
    # 2 learners active on each of the 5 days.
    assert before.total == 2 and sum(n for _, n in before.daily) == 10

    prune_activity(now=NOW)

    assert active_learners_trend(workspace, resolve_period("90d", NOW)) == before


def test_rebuild_learner_activity_command_keeps_pruned_history(workspace, world):
    rows_before = rollup_rows(workspace)
    prune_activity(now=NOW)

    call_command("rebuild_learner_activity", stdout=_Lines([]))
    call_command("rebuild_learner_activity", "--workspace", workspace.slug, stdout=_Lines([]))

    assert rollup_rows(workspace) == rows_before


def test_an_erasure_after_a_prune_leaves_none_of_the_persons_rollup_rows(
    world, workspace, other_workspace, django_capture_on_commit_callbacks
):
    """Issue 22 (erasure x retention): the person's days before the horizon live only in the
    rollups once pruned; erasing them must still remove those rows (the user stays: they are a
    member of another workspace)."""
    from accounts.models import Membership
    from analytics.models import LearnerActivity
    from privacy import services

    gone, kept = world
    Membership.objects.create(user=gone, workspace=other_workspace, role=Role.LEARNER)
    prune_activity(workspace.slug, now=NOW)
    assert LearnerDay.objects.filter(workspace=workspace, user=gone).count() == len(DAYS_AGO)
    kept_days = sorted(LearnerDay.objects.filter(workspace=workspace, user=kept).values_list("day", flat=True))

    subject = services.find_subject(workspace, email=gone.email)
    job, _ = services.request_erasure(workspace, subject, "api_key:test")
    with django_capture_on_commit_callbacks(execute=True):
        services.run_erasure(job.pk)

    assert not LearnerDay.objects.filter(workspace=workspace, user=gone).exists()
    assert not LearnerActivity.objects.filter(workspace=workspace, user=gone).exists()
    # The other learner's history (pruned days included) stays.
    assert sorted(LearnerDay.objects.filter(workspace=workspace, user=kept).values_list("day", flat=True)) == kept_days
    # The workspace's day totals now count the other learner alone: one page session, one video
    # view of 30 s a day (each learner had one of each on every day).
    totals = sorted(
        WorkspaceDay.objects.filter(workspace=workspace).values_list(
            "day", "page_sessions", "video_views", "watch_seconds"
        )
    )
    assert totals == [(day, 1, 1, 30) for day in kept_days]
    # Their course presence goes too, and every week's count (pruned weeks included) equals a
    # recount of the presence left.
    from collections import Counter

    from analytics.models import CourseActivityKind, CourseActivityLearner, CourseActivityWeek, VideoAudienceUser

    assert not CourseActivityLearner.objects.filter(user=gone).exists()
    assert not VideoAudienceUser.objects.filter(user=gone).exists()
    recount = Counter(
        CourseActivityLearner.objects.filter(course__workspace=workspace, activity=CourseActivityKind.ANY).values_list(
            "course_id", "week_start"
        )
    )
    stored = {
        (course_id, week): learners
        for course_id, week, learners in CourseActivityWeek.objects.filter(course__workspace=workspace).values_list(
            "course_id", "week_start", "any"
        )
        if learners
    }
    assert stored == dict(recount) and sum(recount.values()) > 0


def test_video_audience_keeps_viewers_seen_only_before_the_horizon(
    workspace, world, make_member, django_capture_on_commit_callbacks
):
    from analytics.models import VideoAudience
    from analytics.services.course_info_rollups import mark_courses_changed, refresh_stale_courses
    from courses.models import Video

    video = Video.objects.get(key="keep-video")
    early = make_member(workspace, Role.LEARNER, email="early@example.org")
    VideoViewFactory(
        video=video,
        user=early,
        started_at=NOW - timedelta(days=50),
        watched_s=30,
        watched_first_segment=True,
        watched_last_segment=True,
    )
    rebuild_rollups()
    before = list(VideoAudience.objects.filter(video=video).values_list("users_at_start", "users_at_end"))
    assert before == [(1, 1)]  # the world's views cover neither segment; this learner's both

    prune_activity(workspace.slug, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        mark_courses_changed([video.course_id])  # any later write to the course
    refresh_stale_courses()

    assert list(VideoAudience.objects.filter(video=video).values_list("users_at_start", "users_at_end")) == before
