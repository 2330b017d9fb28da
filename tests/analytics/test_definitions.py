"""analytics.definitions: days are UTC days whatever Django's TIME_ZONE is."""

from datetime import date, datetime, timedelta, timezone

import pytest

from analytics.definitions import utc_day
from analytics.models import VideoView
from analytics.queries.video_cloud.videos import video_daily_stats
from tests.factories import VideoFactory, VideoViewFactory

pytestmark = pytest.mark.django_db

LATE_EVENING_IN_NEW_YORK = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # 2026-03-01 21:00 there


def test_utc_day_ignores_the_time_zone_setting(settings):
    settings.TIME_ZONE = "America/New_York"
    view = VideoViewFactory(started_at=LATE_EVENING_IN_NEW_YORK)

    assert VideoView.objects.filter(pk=view.pk).annotate(day=utc_day("started_at")).get().day == date(2026, 3, 2)


def test_video_daily_stats_count_a_view_on_its_utc_day(settings):
    settings.TIME_ZONE = "America/New_York"
    video = VideoFactory()
    VideoViewFactory(video=video, course=video.course, workspace=video.workspace, started_at=LATE_EVENING_IN_NEW_YORK)

    count, rows = video_daily_stats(
        video.workspace, LATE_EVENING_IN_NEW_YORK - timedelta(days=2), LATE_EVENING_IN_NEW_YORK + timedelta(days=1)
    )
    rows = list(rows)

    assert count == 1
    assert [(row["day"], row["views"]) for row in rows] == [(date(2026, 3, 2), 1)]
