"""Open edX course information API (/api/v0/courses/{course_id}/...): exact counts on a small,
hand-built course.

The endpoints read rollups that Celery rebuilds (the stale courses every few seconds);
`get_refreshed` runs that rebuild before the request, as it would have run seconds after the
data was written. (That the
rollups equal the raw rows is tests/analytics/test_course_info_rollups.py.)

The world (all times UTC; 2025-03-03 is a Monday):

    learner  enrolled              unenrolled           mode                gender birth edu        country
    A        03-03 10:00           -                    honor               f      1990  bachelors  US
    B        03-03 23:59:59        03-05 00:00:00       verified            m      1985  masters    CA
    C        03-04 00:00:00        -                    audit               -      -     -          -
    D        03-04 12:00           03-04 18:00          no-id-professional  o      1990  bachelors  FR
    E        03-06 08:00           -                    professional        f      2000  doctorate  XX (not ISO)

Enrolled at the end of each day (cumulative = ever enrolled by then):
    03-02: 0 (0)   03-03: A B = 2 (2)   03-04: A B C = 3 (4: D came and left that day)
    03-05: A C = 2 (4)   03-06: A C E = 3 (5)   03-07: 3 (5)
"""

from datetime import datetime, timezone
from urllib.parse import quote, quote_plus

import pytest

from accounts.models import Role
from analytics.api import course_info as course_info_api
from analytics.api.rows import CompiledRows
from analytics.services.course_info_rollups import rebuild_course_activity_history, refresh_course_info_rollups
from accounts.models import User
from courses.models import Enrollment
from tests.factories import (
    CourseFactory,
    EnrollmentFactory,
    LearningEventFactory,
    PageSessionFactory,
    UserFactory,
    VideoFactory,
    VideoViewFactory,
)

pytestmark = pytest.mark.django_db

KEY = "edX/DemoX/Demo_Course"
BASE = f"/api/v0/courses/{KEY}"


def at(month_day, clock="00:00:00"):
    month, day = month_day.split("-")
    hour, minute, second = clock.split(":")
    return datetime(2025, int(month), int(day), int(hour), int(minute), int(second), tzinfo=timezone.utc)


@pytest.fixture
def frozen_now(monkeypatch):
    """frozen_now("03-07", "15:00:00") sets the API's clock."""

    def freeze(month_day, clock="12:00:00"):
        moment = at(month_day, clock)
        monkeypatch.setattr(course_info_api, "current_time", lambda: moment)
        return moment

    freeze("03-07", "15:00:00")
    return freeze


@pytest.fixture
def course(workspace):
    return CourseFactory(workspace=workspace, key=KEY, title="Demo")


@pytest.fixture
def learners(workspace, make_member):
    specs = {
        "A": dict(gender="f", birth_year=1990, education_level="bachelors", country="US"),
        "B": dict(gender="m", birth_year=1985, education_level="masters", country="CA"),
        "C": dict(),
        "D": dict(gender="o", birth_year=1990, education_level="bachelors", country="FR"),
        "E": dict(gender="f", birth_year=2000, education_level="doctorate", country="XX"),
    }
    return {
        name: make_member(workspace, Role.LEARNER, email=f"{name.lower()}@acme.test", **fields)
        for name, fields in specs.items()
    }


@pytest.fixture
def enrollments(course, learners):
    rows = [
        ("A", at("03-03", "10:00:00"), None, "honor"),
        ("B", at("03-03", "23:59:59"), at("03-05"), "verified"),
        ("C", at("03-04"), None, "audit"),
        ("D", at("03-04", "12:00:00"), at("03-04", "18:00:00"), "no-id-professional"),
        ("E", at("03-06", "08:00:00"), None, "professional"),
    ]
    for name, enrolled_at, unenrolled_at, mode in rows:
        EnrollmentFactory(
            course=course, user=learners[name], enrolled_at=enrolled_at, unenrolled_at=unenrolled_at, mode=mode
        )


@pytest.fixture
def noise(workspace, other_workspace, learners, make_member):
    """Rows that must never be counted: another course of the workspace, and a course with the same
    key in another workspace."""
    other_course = CourseFactory(workspace=workspace, key="edX/Other/Course")
    foreign_course = CourseFactory(workspace=other_workspace, key=KEY)
    outsider = make_member(other_workspace, Role.LEARNER, email="outsider@globex.test", gender="m")
    for enrolled_course, user in ((other_course, learners["C"]), (foreign_course, outsider)):
        EnrollmentFactory(course=enrolled_course, user=user, enrolled_at=at("03-01"), mode="verified")
    for event_course, user in ((other_course, learners["A"]), (foreign_course, outsider)):
        LearningEventFactory(course=event_course, user=user, type="posted_forum", occurred_at=at("03-04"))
    return foreign_course


@pytest.fixture
def admin_client(workspace, api_key_client):
    return api_key_client(workspace, Role.ADMIN)


def build_rollups():
    """What the Celery beat does: the rebuild of the courses and the hourly activity history."""
    refresh_course_info_rollups(course_info_api.current_time())
    rebuild_course_activity_history()


def get(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def get_refreshed(client, url, **params):
    build_rollups()
    return get(client, url, **params)


CREATED = "2025-03-07T150000"


# ---------------------------------------------------------------------------------------------
# enrollment/


def test_enrollment_counts_each_day_at_its_end(admin_client, course, enrollments, noise, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/", start_date="2025-03-02", end_date="2025-03-08")

    assert rows == [
        {"course_id": KEY, "date": f"2025-03-0{day}", "count": count, "created": CREATED}
        for day, count in ((2, 0), (3, 2), (4, 3), (5, 2), (6, 3), (7, 3))
    ]


def test_enrollment_at_last_second_of_day_counts_that_day(admin_client, course, learners, frozen_now):
    EnrollmentFactory(course=course, user=learners["A"], enrolled_at=at("03-03", "23:59:59"))
    EnrollmentFactory(course=course, user=learners["B"], enrolled_at=at("03-04"))

    rows = get_refreshed(admin_client, f"{BASE}/enrollment/", start_date="2025-03-03", end_date="2025-03-05")

    assert [row["count"] for row in rows] == [1, 2]


def test_unenrolled_learner_not_counted_from_unenrollment_day(admin_client, course, learners, frozen_now):
    EnrollmentFactory(course=course, user=learners["A"], enrolled_at=at("03-01"), unenrolled_at=at("03-05"))
    EnrollmentFactory(course=course, user=learners["B"], enrolled_at=at("03-01"), unenrolled_at=at("03-05", "23:59:59"))

    rows = get_refreshed(admin_client, f"{BASE}/enrollment/", start_date="2025-03-04", end_date="2025-03-07")

    # A left at 03-05 00:00, so was still enrolled at the end of 03-04; B left during 03-05.
    assert [(row["date"], row["count"]) for row in rows] == [("2025-03-04", 2), ("2025-03-05", 0), ("2025-03-06", 0)]


def test_enrollment_without_dates_is_the_previous_day(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/")

    assert rows == [{"course_id": KEY, "date": "2025-03-06", "count": 3, "created": CREATED}]


def test_enrollment_with_only_start_date_runs_through_today(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/", start_date="2025-03-05")

    assert [(row["date"], row["count"]) for row in rows] == [("2025-03-05", 2), ("2025-03-06", 3), ("2025-03-07", 3)]


def test_enrollment_with_only_end_date_starts_at_first_enrollment(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/", end_date="2025-03-05")

    assert [(row["date"], row["count"]) for row in rows] == [("2025-03-03", 2), ("2025-03-04", 3)]


def test_enrollment_never_reports_days_after_today(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/", start_date="2025-03-06", end_date="2025-03-20")

    assert [row["date"] for row in rows] == ["2025-03-06", "2025-03-07"]


def test_enrollment_accepts_datetime_format_dates(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(
        admin_client, f"{BASE}/enrollment/", start_date="2025-03-03T000000", end_date="2025-03-05T000000"
    )

    assert [(row["date"], row["count"]) for row in rows] == [("2025-03-03", 2), ("2025-03-04", 3)]


def test_enrollment_of_course_without_enrollments_is_zero(admin_client, course, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/")

    assert rows == [{"course_id": KEY, "date": "2025-03-06", "count": 0, "created": CREATED}]


def test_enrollment_change_shows_after_the_refresh_job(admin_client, course, enrollments, learners, frozen_now):
    before = get_refreshed(admin_client, f"{BASE}/enrollment/", start_date="2025-03-07")[0]["count"]
    newcomer = UserFactory(email="new@acme.test")
    EnrollmentFactory(course=course, user=newcomer, enrolled_at=at("03-07", "14:59:00"))
    Enrollment.objects.filter(user=learners["A"]).update(unenrolled_at=at("03-07", "14:00:00"))

    not_yet = get(admin_client, f"{BASE}/enrollment/", start_date="2025-03-07")[0]["count"]
    after = get_refreshed(admin_client, f"{BASE}/enrollment/", start_date="2025-03-07")[0]["count"]

    assert (before, not_yet, after) == (3, 3, 3 + 1 - 1)


def test_user_demographic_change_shows_after_the_refresh_job(admin_client, course, enrollments, learners, frozen_now):
    get_refreshed(admin_client, f"{BASE}/enrollment/gender/")
    User.objects.filter(pk=learners["C"].pk).update(gender="o")

    row = get_refreshed(admin_client, f"{BASE}/enrollment/gender/")[0]

    assert (row["female"], row["other"], row["unknown"]) == (2, 1, 0)


# ---------------------------------------------------------------------------------------------
# enrollment/mode/


def test_enrollment_by_mode_carries_every_mode_and_cumulative_count(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/mode/", start_date="2025-03-04", end_date="2025-03-07")

    zero_modes = dict.fromkeys(
        ["audit", "honor", "verified", "professional", "credit", "masters", "executive-education"], 0
    )
    assert rows == [
        {
            "course_id": KEY,
            "date": "2025-03-04",
            "created": CREATED,
            "count": 3,
            "cumulative_count": 4,
            **zero_modes,
            "honor": 1,
            "verified": 1,
            "audit": 1,
        },
        {
            "course_id": KEY,
            "date": "2025-03-05",
            "created": CREATED,
            "count": 2,
            "cumulative_count": 4,
            **zero_modes,
            "honor": 1,
            "audit": 1,
        },
        {
            "course_id": KEY,
            "date": "2025-03-06",
            "created": CREATED,
            "count": 3,
            "cumulative_count": 5,
            **zero_modes,
            "honor": 1,
            "audit": 1,
            "professional": 1,
        },
    ]


def test_no_id_professional_counts_as_professional(admin_client, course, learners, frozen_now):
    EnrollmentFactory(course=course, user=learners["A"], enrolled_at=at("03-01"), mode="no-id-professional")
    EnrollmentFactory(course=course, user=learners["B"], enrolled_at=at("03-01"), mode="professional")

    row = get_refreshed(admin_client, f"{BASE}/enrollment/mode/")[0]

    assert (row["professional"], row["count"]) == (2, 2)
    assert "no-id-professional" not in row


# ---------------------------------------------------------------------------------------------
# enrollment/gender/, birth_year/, education/, location/


def test_enrollment_by_gender_counts_unknown(admin_client, course, enrollments, noise, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/gender/", start_date="2025-03-04", end_date="2025-03-07")

    assert rows == [
        {"course_id": KEY, "date": "2025-03-04", "female": 1, "male": 1, "other": 0, "unknown": 1, "created": CREATED},
        {"course_id": KEY, "date": "2025-03-05", "female": 1, "male": 0, "other": 0, "unknown": 1, "created": CREATED},
        {"course_id": KEY, "date": "2025-03-06", "female": 2, "male": 0, "other": 0, "unknown": 1, "created": CREATED},
    ]


def test_enrollment_by_birth_year_counts_unknown_as_null_first(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/birth_year/", start_date="2025-03-04", end_date="2025-03-05")

    assert rows == [
        {"course_id": KEY, "date": "2025-03-04", "birth_year": None, "count": 1, "created": CREATED},
        {"course_id": KEY, "date": "2025-03-04", "birth_year": 1985, "count": 1, "created": CREATED},
        {"course_id": KEY, "date": "2025-03-04", "birth_year": 1990, "count": 1, "created": CREATED},
    ]


def test_enrollment_by_birth_year_leaves_out_years_with_nobody_enrolled(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/birth_year/", start_date="2025-03-05", end_date="2025-03-06")

    # B (1985) left at 03-05 00:00; D (1990) left on 03-04: 1990 is A alone.
    assert [(row["birth_year"], row["count"]) for row in rows] == [(None, 1), (1990, 1)]


def test_enrollment_by_education(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/education/")

    assert rows == [
        {"course_id": KEY, "date": "2025-03-06", "education_level": None, "count": 1, "created": CREATED},
        {"course_id": KEY, "date": "2025-03-06", "education_level": "bachelors", "count": 1, "created": CREATED},
        {"course_id": KEY, "date": "2025-03-06", "education_level": "doctorate", "count": 1, "created": CREATED},
    ]


def test_enrollment_by_location_names_countries_and_merges_unknown(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/location/")

    # C has no country and E's "XX" is not ISO 3166: both UNKNOWN, listed first.
    assert rows == [
        {
            "course_id": KEY,
            "date": "2025-03-06",
            "country": {"alpha2": None, "alpha3": None, "name": "UNKNOWN"},
            "count": 2,
            "created": CREATED,
        },
        {
            "course_id": KEY,
            "date": "2025-03-06",
            "country": {"alpha2": "US", "alpha3": "USA", "name": "United States"},
            "count": 1,
            "created": CREATED,
        },
    ]


def test_enrollment_by_location_on_a_day_with_two_countries(admin_client, course, enrollments, frozen_now):
    rows = get_refreshed(admin_client, f"{BASE}/enrollment/location/", start_date="2025-03-04", end_date="2025-03-05")

    assert [(row["country"]["alpha3"], row["count"]) for row in rows] == [(None, 1), ("CAN", 1), ("USA", 1)]


@pytest.mark.parametrize(
    "route,keys",
    [
        ("enrollment", ["course_id", "date", "count", "created"]),
        ("enrollment/birth_year", ["course_id", "date", "birth_year", "count", "created"]),
        ("enrollment/education", ["course_id", "date", "education_level", "count", "created"]),
        ("enrollment/gender", ["course_id", "date", "female", "male", "other", "unknown", "created"]),
        ("enrollment/location", ["date", "course_id", "country", "count", "created"]),
    ],
)
def test_enrollment_rows_keep_the_documents_field_order(admin_client, course, enrollments, frozen_now, route, keys):
    rows = get_refreshed(admin_client, f"{BASE}/{route}/")

    assert rows and all(list(row) == keys for row in rows)


def test_enrollment_by_mode_rows_end_with_created(admin_client, course, enrollments, frozen_now):
    row = get_refreshed(admin_client, f"{BASE}/enrollment/mode/")[0]

    assert list(row)[:4] == ["course_id", "date", "count", "cumulative_count"]
    assert list(row)[-1] == "created"


def test_demographic_endpoints_answer_empty_list_before_first_enrollment(admin_client, course, enrollments, frozen_now):
    for endpoint in ("birth_year", "education", "location"):
        assert (
            get_refreshed(
                admin_client, f"{BASE}/enrollment/{endpoint}/", end_date="2025-03-03", start_date="2025-03-01"
            )
            == []
        )


# ---------------------------------------------------------------------------------------------
# activity/ and recent_activity/


@pytest.fixture
def activity(course, learners, noise, workspace):
    """Week 1 = [03-03, 03-10), week 2 = [03-10, 03-17).

    week 1: A played_video event at 03-03 00:00 and attempted_problem at 03-09 23:59:59;
            C a course page session; E attempted_problem twice; F's page session has no course.
    week 2: B a video view at 03-10 00:00; D posted_forum and viewed.
    """
    A, B, C, D, E = (learners[name] for name in "ABCDE")
    LearningEventFactory(course=course, user=A, type="played_video", occurred_at=at("03-03"))
    LearningEventFactory(course=course, user=A, type="attempted_problem", occurred_at=at("03-09", "23:59:59"))
    PageSessionFactory(workspace=workspace, user=C, course=course, course_key=KEY, started_at=at("03-04", "09:00:00"))
    PageSessionFactory(workspace=workspace, user=D, course=None, started_at=at("03-04", "09:00:00"))
    for clock in ("10:00:00", "11:00:00"):
        LearningEventFactory(course=course, user=E, type="attempted_problem", occurred_at=at("03-05", clock))
    VideoViewFactory(video=VideoFactory(course=course), user=B, started_at=at("03-10"))
    LearningEventFactory(course=course, user=D, type="posted_forum", occurred_at=at("03-11"))
    LearningEventFactory(course=course, user=D, type="viewed", occurred_at=at("03-11"))


WEEK1 = {
    "interval_start": "2025-03-03T000000",
    "interval_end": "2025-03-10T000000",
    "any": 3,
    "attempted_problem": 2,
    "played_video": 1,
    "posted_forum": 0,
}
WEEK2 = {
    "interval_start": "2025-03-10T000000",
    "interval_end": "2025-03-17T000000",
    "any": 2,
    "attempted_problem": 0,
    "played_video": 1,
    "posted_forum": 1,
}
WEEK3 = {
    "interval_start": "2025-03-17T000000",
    "interval_end": "2025-03-24T000000",
    "any": 0,
    "attempted_problem": 0,
    "played_video": 0,
    "posted_forum": 0,
}


def activity_row(week, created):
    return {**week, "course_id": KEY, "created": created}


def test_weekly_activity_counts_distinct_learners_per_week(admin_client, course, activity, frozen_now):
    frozen_now("03-25", "08:00:00")

    rows = get_refreshed(
        admin_client, f"{BASE}/activity/", start_date="2025-03-03T000000", end_date="2025-03-24T000000"
    )

    created = "2025-03-25T080000"
    assert rows == [activity_row(WEEK1, created), activity_row(WEEK2, created), activity_row(WEEK3, created)]


def test_weekly_activity_returns_only_weeks_inside_the_range(admin_client, course, activity, frozen_now):
    frozen_now("03-25")

    from_tuesday = get_refreshed(admin_client, f"{BASE}/activity/", start_date="2025-03-04", end_date="2025-03-24")
    to_sunday = get_refreshed(admin_client, f"{BASE}/activity/", start_date="2025-03-03", end_date="2025-03-16")

    assert [row["interval_start"] for row in from_tuesday] == ["2025-03-10T000000", "2025-03-17T000000"]
    assert [row["interval_start"] for row in to_sunday] == ["2025-03-03T000000"]


def test_weekly_activity_without_dates_is_the_week_ending_on_the_previous_day(
    admin_client, course, activity, frozen_now
):
    frozen_now("03-12", "10:00:00")  # a Wednesday: the week is [03-05, 03-12)

    rows = get_refreshed(admin_client, f"{BASE}/activity/")

    # In it: A's problem (03-09 23:59:59), E's problems (03-05), B's view (03-10), D's post and
    # view (03-11); not A's video (03-03) nor C's session (03-04).
    rolling = {
        "interval_start": "2025-03-05T000000",
        "interval_end": "2025-03-12T000000",
        "any": 4,
        "attempted_problem": 2,
        "played_video": 1,
        "posted_forum": 1,
    }
    assert rows == [activity_row(rolling, "2025-03-12T100000")]
    assert list(rows[0]) == [
        "interval_start",
        "interval_end",
        "course_id",
        "any",
        "attempted_problem",
        "played_video",
        "posted_forum",
        "created",
    ]


def test_weekly_activity_without_dates_on_a_monday_is_the_last_monday_week(admin_client, course, activity, frozen_now):
    frozen_now("03-10", "10:00:00")

    rows = get_refreshed(admin_client, f"{BASE}/activity/")

    assert rows == [activity_row(WEEK1, "2025-03-10T100000")]


def test_weekly_activity_week_in_progress_counts_so_far(admin_client, course, activity, frozen_now):
    frozen_now("03-12", "10:00:00")

    rows = get_refreshed(admin_client, f"{BASE}/activity/", start_date="2025-03-10")

    assert rows == [activity_row(WEEK2, "2025-03-12T100000")]


def test_weekly_activity_with_only_end_date_starts_at_first_active_week(admin_client, course, activity, frozen_now):
    frozen_now("03-25")

    rows = get_refreshed(admin_client, f"{BASE}/activity/", end_date="2025-03-17")

    assert [row["any"] for row in rows] == [3, 2]


def test_recent_activity_is_the_most_recent_whole_week(admin_client, course, activity, frozen_now):
    frozen_now("03-12", "10:00:00")

    response = get_refreshed(admin_client, f"{BASE}/recent_activity/")

    assert response == {
        "interval_start": "2025-03-03T00:00:00Z",
        "interval_end": "2025-03-10T00:00:00Z",
        "activity_type": "any",
        "count": 3,
        "course_id": KEY,
    }


def test_recent_activity_by_type_and_old_label_parameter(admin_client, course, activity, frozen_now):
    frozen_now("03-17", "00:00:00")

    counts = [
        get_refreshed(admin_client, f"{BASE}/recent_activity/", **params)["count"]
        for params in ({"activity_type": "posted_forum"}, {"activity_type": "PLAYED_VIDEO"}, {"label": "any"})
    ]

    assert counts == [1, 1, 2]


def test_recent_activity_unknown_type_is_404_naming_it(admin_client, course, activity, frozen_now):
    response = admin_client.get(f"{BASE}/recent_activity/", {"activity_type": "dancing"})

    assert response.status_code == 404
    assert "activity_type" in response.json()["detail"]


# ---------------------------------------------------------------------------------------------
# videos/


def test_videos_count_learners_at_start_and_end(admin_client, course, learners, frozen_now):
    first = VideoFactory(
        course=course, key="block-v1:edX+DemoX+Demo_Course+type@video+block@abc123", duration_s=142, segment_length_s=5
    )
    VideoFactory(course=course, key="i4x://edX/DemoX/video/v2", duration_s=66, segment_length_s=4)
    A, B, C = learners["A"], learners["B"], learners["C"]
    VideoViewFactory(video=first, user=A, watched_first_segment=True, watched_last_segment=True)
    VideoViewFactory(video=first, user=B, watched_first_segment=True)
    VideoViewFactory(video=first, user=B, watched_first_segment=True)
    VideoViewFactory(video=first, user=C)

    rows = get_refreshed(admin_client, f"{BASE}/videos/")

    assert rows == [
        {
            "pipeline_video_id": f"{KEY}|abc123",
            "encoded_module_id": "abc123",
            "duration": 142,
            "segment_length": 5,
            "users_at_start": 2,
            "users_at_end": 1,
            "created": CREATED,
        },
        {
            "pipeline_video_id": f"{KEY}|i4x-edX-DemoX-video-v2",
            "encoded_module_id": "i4x-edX-DemoX-video-v2",
            "duration": 66,
            "segment_length": 4,
            "users_at_start": 0,
            "users_at_end": 0,
            "created": CREATED,
        },
    ]


# ---------------------------------------------------------------------------------------------
# Course keys, dates and errors


@pytest.mark.parametrize(
    "key,path_key",
    [
        ("edX/DemoX/Demo_Course", "edX/DemoX/Demo_Course"),
        ("edX/DemoX/Demo_Course", quote("edX/DemoX/Demo_Course", safe="")),
        ("course-v1:edX+DemoX+Demo_2014", "course-v1:edX+DemoX+Demo_2014"),
        ("course-v1:edX+DemoX+Demo_2014", quote_plus("course-v1:edX+DemoX+Demo_2014")),
        ("ccx-v1:edx+1.005x-CCX+rerun+ccx@15", "ccx-v1:edx+1.005x-CCX+rerun+ccx@15"),
        ("0123456789abcdef01234567", "0123456789abcdef01234567"),
    ],
)
def test_course_keys_route_plain_and_url_encoded(admin_client, workspace, key, path_key, frozen_now):
    CourseFactory(workspace=workspace, key=key)

    for endpoint in ("enrollment/", "enrollment/mode/", "activity/", "recent_activity/"):
        response = admin_client.get(f"/api/v0/courses/{path_key}/{endpoint}")
        assert response.status_code == 200, endpoint
        body = response.json()
        assert (body[0] if isinstance(body, list) else body)["course_id"] == key


def test_unknown_course_is_404_in_drf_shape(admin_client, course):
    response = admin_client.get("/api/v0/courses/edX/DemoX/Non_Existent_Course/enrollment/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_course_of_other_workspace_with_same_key_is_never_visible(
    admin_client, other_workspace, api_key_client, course, enrollments, noise, frozen_now
):
    foreign_client = api_key_client(other_workspace, Role.ADMIN)

    ours = get_refreshed(admin_client, f"{BASE}/enrollment/mode/")[0]
    theirs = get_refreshed(foreign_client, f"{BASE}/enrollment/mode/")[0]

    assert (ours["count"], ours["verified"]) == (3, 0)
    assert (theirs["count"], theirs["verified"]) == (1, 1)


def test_course_only_in_other_workspace_is_404(other_workspace, api_key_client, workspace):
    CourseFactory(workspace=workspace, key="edX/Only/Ours")

    response = api_key_client(other_workspace, Role.ADMIN).get("/api/v0/courses/edX/Only/Ours/enrollment/")

    assert response.status_code == 404


@pytest.mark.parametrize("value", ["2025-13-01", "yesterday", "2025-03-01T10", "2025-03-01 000000"])
def test_bad_date_is_400_naming_the_parameter(admin_client, course, value):
    response = admin_client.get(f"{BASE}/enrollment/", {"start_date": value})

    assert response.status_code == 400
    assert list(response.json()) == ["start_date"]


def test_bad_end_date_on_activity_is_400_naming_it(admin_client, course):
    response = admin_client.get(f"{BASE}/activity/", {"end_date": "2025-02-30"})

    assert response.status_code == 400
    assert list(response.json()) == ["end_date"]


def test_end_date_not_after_start_date_is_400(admin_client, course):
    response = admin_client.get(f"{BASE}/enrollment/", {"start_date": "2025-03-05", "end_date": "2025-03-05"})

    assert response.status_code == 400
    assert response.json() == {"end_date": ["end_date must be after start_date."]}


# ---------------------------------------------------------------------------------------------
# CSV


def test_format_csv_answers_sorted_columns_and_edx_file_name(admin_client, course, enrollments, frozen_now):
    build_rollups()
    response = admin_client.get(f"{BASE}/enrollment/", {"format": "csv", "start_date": "2025-03-05"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == "attachment; filename=edX-DemoX-Demo_Course--enrollment.csv"
    assert response.content.decode() == (
        "count,course_id,created,date\r\n"
        f"2,{KEY},{CREATED},2025-03-05\r\n"
        f"3,{KEY},{CREATED},2025-03-06\r\n"
        f"3,{KEY},{CREATED},2025-03-07\r\n"
    )


def test_accept_text_csv_flattens_nested_country(admin_client, workspace, learners, frozen_now):
    course = CourseFactory(workspace=workspace, key="course-v1:edX+DemoX+Demo_2014")
    EnrollmentFactory(course=course, user=learners["A"], enrolled_at=at("03-01"))
    build_rollups()

    response = admin_client.get(
        "/api/v0/courses/course-v1:edX+DemoX+Demo_2014/enrollment/location/", HTTP_ACCEPT="text/csv"
    )

    assert response["Content-Disposition"] == "attachment; filename=edX-DemoX-Demo_2014--enrollment-location.csv"
    assert response.content.decode() == (
        "count,country.alpha2,country.alpha3,country.name,course_id,created,date\r\n"
        f"1,US,USA,United States,course-v1:edX+DemoX+Demo_2014,{CREATED},2025-03-06\r\n"
    )


def test_csv_of_no_rows_is_empty(admin_client, course, frozen_now):
    response = admin_client.get(f"{BASE}/videos/", {"format": "csv"})

    assert (response.status_code, response.content) == (200, b"")


def test_recent_activity_has_no_csv(admin_client, course):
    assert admin_client.get(f"{BASE}/recent_activity/", {"format": "csv"}).status_code == 404


# ---------------------------------------------------------------------------------------------
# Who may read


def test_learner_is_403(workspace, learner, bearer_client, course):
    assert bearer_client(learner, workspace).get(f"{BASE}/enrollment/").status_code == 403


def test_instructor_reads_a_course_they_teach(workspace, instructor, bearer_client, course, frozen_now):
    course.instructors.add(instructor)

    assert bearer_client(instructor, workspace).get(f"{BASE}/enrollment/").status_code == 200


def test_instructor_is_403_on_a_course_they_do_not_teach(workspace, instructor, bearer_client, course):
    response = bearer_client(instructor, workspace).get(f"{BASE}/videos/")

    assert response.status_code == 403


def test_instructor_api_key_is_403(workspace, api_key_client, course):
    assert api_key_client(workspace, Role.INSTRUCTOR).get(f"{BASE}/videos/").status_code == 403


def test_admin_session_reads_the_workspace(workspace, admin_user, session_client, course, frozen_now):
    assert session_client(admin_user).get(f"{BASE}/enrollment/gender/").status_code == 200


def test_edx_client_token_header_is_an_api_key(workspace, api_key_client, course, frozen_now):
    client = api_key_client(workspace, Role.ADMIN)
    client.credentials(HTTP_AUTHORIZATION=f"Token {client.raw_api_key}")

    assert client.get(f"{BASE}/enrollment/").status_code == 200


def test_no_credential_is_401(api_client, course):
    assert api_client.get(f"{BASE}/enrollment/").status_code == 401


# ---------------------------------------------------------------------------------------------
# Query counts


@pytest.mark.parametrize("endpoint", [spec.route for spec in course_info_api.ENDPOINTS])
def test_each_endpoint_runs_a_fixed_number_of_queries(
    admin_client, course, enrollments, activity, endpoint, frozen_now, django_assert_max_num_queries
):
    frozen_now("03-25")
    build_rollups()
    # API key lookup and its last-used stamp, the course, the course's freshness, the numbers.
    params = {"start_date": "2025-03-03"} if endpoint not in ("recent_activity", "videos") else {}
    with django_assert_max_num_queries(5):
        response = admin_client.get(f"{BASE}/{endpoint}/", params)
    assert response.status_code == 200


@pytest.mark.parametrize("spec", course_info_api.ENDPOINTS, ids=lambda spec: spec.route)
def test_compiled_rows_give_what_the_drf_serializer_gives(spec, course, enrollments, activity, learners, frozen_now):
    VideoViewFactory(
        video=VideoFactory(course=course, key="i4x://edX/DemoX/video/v9"),
        user=learners["A"],
        watched_first_segment=True,
    )
    build_rollups()
    now = at("03-25", "08:09:10")
    params = {} if spec.params is not course_info_api.DateRangeParamsSerializer else {"start_date": at("03-01")}
    result = spec.run(course, params, now)
    items = result if spec.many else [result]
    for item in items:
        item.update(course_id=course.key, created=now)
    assert items

    compiled = CompiledRows(spec.serializer)
    drf = spec.serializer(result, many=spec.many).data

    assert (compiled.many(result) if spec.many else compiled.one(result)) == drf
