"""generate_demo_data and demo_logins: the tiny demo world, its invariants, determinism, --if-empty.

Most tests read one tiny workspace generated once for the module (committed, deleted at the end);
tests that generate their own run inside their test transaction.
"""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pycountry
import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Q
from django.db.models.functions import ExtractIsoWeekDay, TruncDate
from django.test import override_settings

from accounts.models import CustomField, CustomFieldValue, LearnerGroup, Membership, Role, User, Workspace
from analytics.models import (
    LearningEvent,
    PageSession,
    ProblemAnswerCount,
    ProblemGradeCount,
    ProblemPartLatest,
    ProblemResponse,
    SubsectionLearner,
    SubsectionOpen,
    VideoReaction,
    VideoView,
)
from analytics.services.records.behaviour import VIDEO_VIEW_COLUMNS, course_and_chapter_from_path
from courses.models import Attempt, Chapter, Course, Enrollment, Program, Video
from courses.services.bulk_write import CopyWriter
from courses.services.demo_data import (
    DEMO_LOGINS,
    SIZES,
    delete_demo_workspace,
    demo_email,
    generate_demo_data,
)

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)  # a Wednesday afternoon


def fast_hasher():
    """Demo passwords hashed in microseconds (the real hasher takes ~0.5 s each)."""
    return override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])


EXCLUDED_PAGES = {"Home", "Browse Courses", "Course Details", "Analytics", "Other"}
COURSE_PAGES = {"Course Player", "Quiz"}
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL COPY path")


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The tiny demo workspace `demo`, generated once for this module, deleted after it."""
    with django_db_blocker.unblock(), fast_hasher():
        workspace, counts = generate_demo_data("demo", "tiny", seed=1, now=NOW)
        yield workspace, counts
        delete_demo_workspace("demo")


@pytest.fixture
def workspace(demo, db):
    return demo[0]


def demo_user(login):
    return User.objects.get(email=demo_email(login))


def demo_learner():
    return demo_user(next(login for login in DEMO_LOGINS if login.role == Role.LEARNER))


# --- PostgreSQL bulk load (first in the file: it needs the behaviour tables empty) ---------------


def _table_definitions(tables):
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s) ORDER BY 1, 2", [tables])
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
            [tables],
        )
        return indexes, cursor.fetchall()


@on_postgresql
@pytest.mark.django_db
def test_postgresql_copy_path_lifts_and_restores_indexes_and_keys():
    models = (
        PageSession,
        LearningEvent,
        VideoView,
        VideoReaction,
        Attempt,
        Enrollment,
        CustomFieldValue,
        LearnerGroup.members.through,
    )
    tables = [model._meta.db_table for model in models]
    if any(model.objects.exists() for model in models):
        pytest.skip("needs the behaviour tables empty (another test left rows behind)")
    before = _table_definitions(tables)
    logs = []
    with fast_hasher():
        workspace, counts = generate_demo_data("pg", "tiny", now=NOW, bulk_load_min_rows=0, log=logs.append)
    assert any("built once, after the load" in line for line in logs)
    assert _table_definitions(tables) == before
    assert counts["analytics.PageSession"] == PageSession.objects.filter(workspace=workspace).count() >= 3_000
    assert counts["analytics.LearningEvent"] == LearningEvent.objects.filter(workspace=workspace).count() == 4_000


# --- every kind of row -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, at_least",
    [
        (User, 60),
        (Membership, 60),
        (CustomField, 3),
        (CustomFieldValue, 100),
        (LearnerGroup, 5),
        (Course, 8),
        (Chapter, 8 * 3),
        (Video, 8 * 3),
        (Enrollment, 60),
        (Attempt, 60),
        (PageSession, 3_000),
        (LearningEvent, 4_000),
        (VideoView, 800),
        (VideoReaction, 1),
    ],
)
def test_tiny_generation_writes_every_kind_of_row(workspace, model, at_least):
    filters = {
        User: Q(memberships__workspace=workspace),
        CustomFieldValue: Q(field__workspace=workspace),
        Chapter: Q(course__workspace=workspace),
    }.get(model, Q(workspace=workspace))
    assert model.objects.filter(filters).count() >= at_least


def test_reported_counts_match_a_recount(demo, db):
    workspace, counts = demo
    assert counts["analytics.PageSession"] == PageSession.objects.filter(workspace=workspace).count()
    assert counts["analytics.LearningEvent"] == LearningEvent.objects.filter(workspace=workspace).count()
    assert counts["analytics.VideoView"] == VideoView.objects.filter(workspace=workspace).count()
    assert counts["courses.Attempt"] == Attempt.objects.filter(workspace=workspace).count()
    assert (
        counts["accounts.LearnerGroup_members"]
        == LearnerGroup.members.through.objects.filter(learnergroup__workspace=workspace).count()
    )


def test_sizes_meet_the_benchmark_floor():
    large = SIZES["large"]
    assert large.learners >= 100_000 and large.courses >= 2_000
    assert large.page_sessions >= 5_000_000 and large.events >= 10_000_000 and large.video_views >= 2_000_000
    # Each enrollment has an attempt, so learners x enrollments per learner is the attempt floor.
    assert large.learners * large.enrollments_per_learner >= 1_000_000
    assert large.problem_responses >= 3_000_000 and large.subsection_opens >= 1_000_000


# --- people ----------------------------------------------------------------------------------------


def test_every_role_is_present(workspace):
    roles = dict(Membership.objects.filter(workspace=workspace).values_list("role").annotate(n=Count("id")))
    assert roles == {Role.ADMIN: 2, Role.INSTRUCTOR: 3, Role.LEARNER: 60}


def test_every_course_has_an_instructor_and_the_demo_instructor_teaches(workspace):
    instructor = demo_user(next(login for login in DEMO_LOGINS if login.role == Role.INSTRUCTOR))
    without = Course.objects.filter(workspace=workspace).annotate(n=Count("instructors")).filter(n=0)
    assert without.count() == 0
    assert instructor.taught_courses.filter(workspace=workspace).count() >= 3
    assert not Course.objects.filter(workspace=workspace, instructors__memberships__role=Role.LEARNER).exists()


@pytest.mark.parametrize("login", DEMO_LOGINS, ids=lambda login: login.role)
def test_demo_login_authenticates_with_its_password(workspace, login):
    with fast_hasher():
        user = authenticate(email=demo_email(login), password=login.password)
    assert user is not None
    assert Membership.objects.get(user=user, workspace=workspace).role == login.role


def test_demo_admin_can_use_the_admin_site(workspace):
    admin = demo_user(next(login for login in DEMO_LOGINS if login.role == Role.ADMIN))
    assert admin.is_staff and admin.is_superuser
    others = User.objects.filter(memberships__workspace=workspace).exclude(pk=admin.pk)
    assert not others.filter(is_staff=True).exists()
    assert not others.exclude(password="!").exclude(email__in=[demo_email(login) for login in DEMO_LOGINS]).exists()


def test_demographics_cover_every_value_and_some_unknowns(workspace):
    users = User.objects.filter(memberships__workspace=workspace)
    assert set(users.values_list("gender", flat=True)) == {"f", "m", "o", ""}
    assert set(users.values_list("source", flat=True)) == {"organic", "referral", "social", ""}
    assert users.filter(birth_year__isnull=True).exists()
    assert users.filter(education_level="").exists()
    assert users.filter(education_level="bachelors").exists()
    countries = set(users.values_list("country", flat=True))
    assert "" in countries
    assert all(pycountry.countries.get(alpha_2=code) for code in countries - {""})


def test_custom_fields_and_groups_have_values(workspace):
    fields = dict(CustomField.objects.filter(workspace=workspace).annotate(n=Count("values")).values_list("name", "n"))
    assert set(fields) == {"Department", "Region", "Job Title"}
    assert all(n >= 40 for n in fields.values())
    regions = set(
        CustomFieldValue.objects.filter(field__name="Region", field__workspace=workspace).values_list(
            "value", flat=True
        )
    )
    assert regions <= {"EMEA", "North America", "LATAM", "APAC"}
    assert LearnerGroup.objects.filter(workspace=workspace).annotate(n=Count("members")).filter(n__gt=0).count() >= 5


# --- catalog, enrollments, attempts ------------------------------------------------------------------


def test_course_keys_mix_edx_keys_and_hex_ids_without_slashes(workspace):
    keys = list(Course.objects.filter(workspace=workspace).values_list("key", flat=True))
    edx = [key for key in keys if key.startswith("course-v1:") and key.count("+") == 2]
    hex_ids = [key for key in keys if len(key) == 24 and all(c in "0123456789abcdef" for c in key)]
    assert edx and hex_ids and len(edx) + len(hex_ids) == len(keys)
    assert not any("/" in key for key in keys)


def test_courses_popularity_is_skewed(workspace):
    enrolled = list(
        Course.objects.filter(workspace=workspace)
        .annotate(n=Count("enrollments"))
        .order_by("-n")
        .values_list("n", flat=True)
    )
    assert enrolled[0] >= 3 * enrolled[-1]


def test_enrollments_have_every_mode_and_kind_some_unenrolled_some_expired(workspace):
    enrollments = Enrollment.objects.filter(workspace=workspace)
    assert {"audit", "honor", "verified", "professional"} <= set(enrollments.values_list("mode", flat=True))
    assert set(enrollments.values_list("kind", flat=True)) == {"MANDATORY", "OPTIONAL"}
    assert enrollments.filter(unenrolled_at__isnull=False).exists()
    assert enrollments.filter(expires_at__lt=NOW).exists()


def test_attempts_are_in_every_state_with_completions_and_certificates(workspace):
    attempts = Attempt.objects.filter(workspace=workspace)
    assert set(attempts.values_list("state", flat=True)) == {
        "NOT_STARTED",
        "IN_PROGRESS",
        "APPROVED",
        "FAILED",
        "EXPIRED",
    }
    assert not attempts.filter(state="APPROVED", completed_at__isnull=True).exists()
    assert not attempts.filter(state="APPROVED").exclude(progress=100).exists()
    assert attempts.filter(certificate_issued_at__isnull=False).exists()
    assert not attempts.filter(certificate_issued_at__isnull=False).exclude(state="APPROVED").exists()
    assert attempts.filter(state="IN_PROGRESS", score__isnull=False, time_spent_s__gt=0).exists()
    assert not attempts.filter(state="NOT_STARTED").exclude(progress=0, time_spent_s=0).exists()


# --- behaviour -------------------------------------------------------------------------------------


def test_page_names_include_excluded_pages_and_course_pages(workspace):
    pages = set(PageSession.objects.filter(workspace=workspace).values_list("page", flat=True))
    assert pages == EXCLUDED_PAGES | COURSE_PAGES | {"Profile"}


def test_page_session_keys_are_what_the_tracking_api_reads_from_the_path(workspace):
    sessions = PageSession.objects.filter(workspace=workspace)
    for path, course_key, chapter_key in sessions.values_list("path", "course_key", "chapter_key").distinct():
        assert course_and_chapter_from_path(path) == (course_key, chapter_key), path
    assert not sessions.exclude(course_key="").filter(course__isnull=True).exists()
    assert not sessions.filter(course_key="", course__isnull=False).exists()
    course_keys = dict(Course.objects.filter(workspace=workspace).values_list("id", "key"))
    for course_id, course_key in (
        sessions.filter(course__isnull=False).values_list("course_id", "course_key").distinct()
    ):
        assert course_keys[course_id] == course_key
    chapters = set(Chapter.objects.filter(course__workspace=workspace).values_list("course__key", "key"))
    for pair in sessions.exclude(chapter_key="").values_list("course_key", "chapter_key").distinct():
        assert pair in chapters


def test_behaviour_lies_in_the_last_120_days_and_not_in_the_future(workspace):
    for model, field in ((PageSession, "started_at"), (LearningEvent, "occurred_at"), (VideoView, "started_at")):
        rows = model.objects.filter(workspace=workspace)
        assert not rows.filter(**{f"{field}__gt": NOW}).exists()
        assert not rows.filter(**{f"{field}__lt": NOW - timedelta(days=121)}).exists()


def test_events_have_a_course_and_every_type(workspace):
    events = LearningEvent.objects.filter(workspace=workspace)
    assert set(events.values_list("type", flat=True)) == {"played_video", "attempted_problem", "posted_forum", "viewed"}
    assert not events.filter(course__isnull=True).exists()


def test_weekends_are_quieter_than_weekdays(workspace):
    per_weekday = dict(
        PageSession.objects.filter(workspace=workspace)
        .annotate(weekday=ExtractIsoWeekDay("started_at"))
        .values_list("weekday")
        .annotate(n=Count("id"))
    )
    weekdays = [per_weekday[day] for day in range(1, 6)]
    weekend_mean = (per_weekday[6] + per_weekday[7]) / 2
    assert weekend_mean < 0.7 * sum(weekdays) / 5
    assert max(weekdays) < 1.5 * min(weekdays)  # the quiet weekend does not pile onto one weekday


def test_demo_learner_has_sessions_on_each_of_the_last_7_days(workspace):
    learner = demo_learner()
    first_day = datetime.combine(NOW.date() - timedelta(days=6), datetime.min.time(), tzinfo=UTC)
    days = set(
        PageSession.objects.filter(user=learner, started_at__gte=first_day)
        .annotate(day=TruncDate("started_at"))
        .values_list("day", flat=True)
    )
    assert days == {(NOW - timedelta(days=n)).date() for n in range(7)}


def test_demo_learner_has_course_and_quiz_time_events_and_views_in_the_last_7_days(workspace):
    learner, since = demo_learner(), NOW - timedelta(days=7)
    recent = PageSession.objects.filter(user=learner, started_at__gte=since)
    assert recent.filter(page="Course Player").exists() and recent.filter(page="Quiz").exists()
    assert LearningEvent.objects.filter(user=learner, occurred_at__gte=since).exists()
    assert VideoView.objects.filter(user=learner, started_at__gte=since).exists()
    states = set(Attempt.objects.filter(user=learner).values_list("state", flat=True))
    assert {"APPROVED", "IN_PROGRESS", "FAILED", "NOT_STARTED"} <= states


def test_more_learners_start_each_video_than_finish_it(workspace):
    per_video = Video.objects.filter(workspace=workspace).annotate(
        at_start=Count("views__user", filter=Q(views__watched_first_segment=True), distinct=True),
        at_end=Count("views__user", filter=Q(views__watched_last_segment=True), distinct=True),
    )
    assert not per_video.filter(at_start__lt=F("at_end")).exists()
    totals = [(video.at_start, video.at_end) for video in per_video]
    assert sum(start for start, _ in totals) > sum(end for _, end in totals)


def test_earlier_chapters_get_more_viewers_than_later_ones(workspace):
    first, last = 0, 0
    for course in Course.objects.filter(workspace=workspace).prefetch_related("chapters"):
        chapters = list(course.chapters.all())
        viewers = (
            VideoView.objects.filter(video__chapter__in=[chapters[0], chapters[-1]])
            .values_list("video__chapter_id")
            .annotate(n=Count("user", distinct=True))
        )
        counts = dict(viewers)
        first += counts.get(chapters[0].pk, 0)
        last += counts.get(chapters[-1].pk, 0)
    assert first > last


def test_video_views_carry_segments_devices_and_quality_on_most(workspace):
    views = VideoView.objects.filter(workspace=workspace)
    total = views.count()
    assert (
        views.filter(buffering_s__isnull=False, bitrate_kbps__isnull=False, errors__isnull=False).count() > 0.8 * total
    )
    assert set(views.values_list("device", flat=True)) == {"desktop", "mobile", "tablet"}
    assert set(views.values_list("platform", flat=True)) == {"web", "ios", "android"}
    for view in views.select_related("video")[:200]:
        last_segment = view.video.segment_count - 1
        assert view.segments and max(view.segments) <= last_segment
        assert view.watched_first_segment == (0 in view.segments)
        assert view.watched_last_segment == (last_segment in view.segments)
        assert view.position_s <= view.video.duration_s


def test_reactions_are_likes_comments_and_shares(workspace):
    kinds = set(VideoReaction.objects.filter(workspace=workspace).values_list("type", flat=True))
    assert kinds == {"like", "comment", "share"}


# --- problems, subsection opens, programs, catalog facts -----------------------------------------------


def test_problem_responses_come_near_the_size_and_cover_most_courses(demo, db):
    workspace, counts = demo
    responses = ProblemResponse.objects.filter(workspace=workspace)
    assert counts["analytics.ProblemResponse"] == responses.count()
    assert 0.6 * SIZES["tiny"].problem_responses <= responses.count() <= 1.4 * SIZES["tiny"].problem_responses
    assert counts["analytics.SubsectionOpen"] == SubsectionOpen.objects.filter(workspace=workspace).count() == 600
    per_course = responses.values("course").annotate(problems=Count("problem_key", distinct=True))
    assert len(per_course) >= 6 and max(row["problems"] for row in per_course) >= 4


def test_problems_have_one_to_three_parts_texts_and_grades_out_of_their_parts(workspace):
    responses = ProblemResponse.objects.filter(workspace=workspace)
    parts = dict(responses.values_list("problem_key").annotate(n=Count("part_id", distinct=True)))
    assert set(parts.values()) == {1, 2, 3}
    assert all(key.startswith("block-v1:") and "+type@problem+block@" in key for key in parts)
    assert not responses.filter(Q(question="") | Q(problem_name="") | Q(grade__isnull=True)).exists()
    for key, max_grade in responses.values_list("problem_key", "max_grade").distinct():
        assert max_grade == parts[key]
    assert not responses.filter(grade__gt=F("max_grade")).exists()
    assert responses.filter(grade=F("max_grade")).exists() and responses.filter(grade=0).exists()


def test_answers_are_choices_with_value_ids_list_answers_and_numbers(workspace):
    responses = ProblemResponse.objects.filter(workspace=workspace)
    choice = responses.filter(value_id__startswith="choice_").first()
    assert choice.answer and not choice.answer.startswith("[")
    checkbox = responses.filter(answer__startswith="[", answer__contains="|").first()
    assert checkbox.value_id.startswith("[choice_") and checkbox.value_id.count("|") == checkbox.answer.count("|")
    assert responses.filter(value_id="", answer__in=["3", "4", "5", "6"]).exists()
    assert responses.filter(correct=True).exists() and responses.filter(correct=False).exists()


def test_learners_retry_and_their_last_answers_differ_from_their_first(workspace):
    responses = ProblemResponse.objects.filter(workspace=workspace)
    assert set(responses.values_list("attempt", flat=True)) == {1, 2, 3}
    changed = 0
    for user_id, part_id in responses.filter(attempt__gt=1).values_list("user_id", "part_id").distinct():
        answers = list(
            responses.filter(user_id=user_id, part_id=part_id).order_by("submitted_at").values_list("answer", flat=True)
        )
        assert len(answers) > 1
        changed += answers[0] != answers[-1]
    assert changed >= 10
    # Retries are later than the first submission, never in the future.
    assert not responses.filter(submitted_at__gt=NOW).exists()


def test_problem_rollups_count_each_learners_last_answer(workspace):
    """The answer counts match a recount by hand from the raw rows (the last row per learner and part)."""
    last = {}
    for user_id, part_id, problem_key, answer, at in ProblemResponse.objects.filter(workspace=workspace).values_list(
        "user_id", "part_id", "problem_key", "answer", "submitted_at"
    ):
        if (user_id, part_id) not in last or at > last[(user_id, part_id)][0]:
            last[(user_id, part_id)] = (at, problem_key, answer)
    expected = {}
    for _, problem_key, answer in last.values():
        expected[(problem_key, answer)] = expected.get((problem_key, answer), 0) + 1
    counted = {}
    for problem_key, answer, count in ProblemAnswerCount.objects.filter(workspace=workspace).values_list(
        "problem_key", "answer", "count"
    ):
        counted[(problem_key, answer)] = counted.get((problem_key, answer), 0) + count
    assert counted == expected
    assert ProblemPartLatest.objects.filter(workspace=workspace).count() == len(last)
    learners = ProblemResponse.objects.filter(workspace=workspace).values("problem_key", "user_id").distinct().count()
    assert sum(ProblemGradeCount.objects.filter(workspace=workspace).values_list("count", flat=True)) == learners
    opened = SubsectionOpen.objects.filter(workspace=workspace).values("subsection_key", "user_id").distinct().count()
    assert SubsectionLearner.objects.filter(workspace=workspace).count() == opened


def test_three_programs_of_courses_of_their_subjects(workspace):
    programs = {
        program.title: (
            program.program_type,
            sorted(course.key.split("+")[1][:2] if "+" in course.key else "hex" for course in program.courses.all()),
        )
        for program in Program.objects.filter(workspace=workspace)
    }
    assert set(programs) == {"Data Science", "Web and Cloud Engineering", "Business Leadership"}
    assert programs["Data Science"][0] == "XSeries"
    assert all(2 <= len(courses) <= 6 for _, courses in programs.values())
    assert len({str(key) for key in Program.objects.filter(workspace=workspace).values_list("key", flat=True)}) == 3


def test_courses_have_catalog_facts_running_archived_upcoming_and_unknown(workspace):
    courses = list(Course.objects.filter(workspace=workspace).order_by("created_at"))
    assert {course.pacing for course in courses} == {"self_paced", "instructor_paced"}
    assert all(course.catalog_course and course.catalog_title == course.title for course in courses)
    assert courses[0].catalog_course == courses[0].key.removeprefix("course-v1:").rsplit("+", 1)[0]
    assert courses[7].start is None and courses[7].end is None  # unknown
    assert courses[3].end < NOW  # archived
    assert courses[6].start > NOW  # upcoming
    assert courses[0].start < NOW and (courses[0].end is None or courses[0].end > NOW)


# --- determinism and the command -----------------------------------------------------------------


def _fingerprint(workspace):
    """Counts and keys that the same seed must reproduce (emails without their workspace domain)."""
    return {
        "counts": [
            model.objects.filter(workspace=workspace).count()
            for model in (
                Enrollment,
                Attempt,
                PageSession,
                LearningEvent,
                VideoView,
                VideoReaction,
                Video,
                ProblemResponse,
                SubsectionOpen,
                ProblemAnswerCount,
                Program,
            )
        ],
        "problems": sorted(
            ProblemAnswerCount.objects.filter(workspace=workspace).values_list(
                "problem_name", "part_id", "answer", "count"
            )
        ),
        "courses": sorted(Course.objects.filter(workspace=workspace).values_list("key", "title")),
        "chapters": sorted(Chapter.objects.filter(course__workspace=workspace).values_list("course__key", "key")),
        "videos": sorted(Video.objects.filter(workspace=workspace).values_list("key", "duration_s")),
        "people": sorted(
            (email.split("@")[0], role)
            for email, role in Membership.objects.filter(workspace=workspace).values_list("user__email", "role")
        ),
        "pages": sorted(
            PageSession.objects.filter(workspace=workspace).values_list("page", "path").annotate(n=Count("id"))
        ),
    }


@pytest.mark.django_db
def test_same_seed_gives_same_counts_and_keys():
    with fast_hasher():
        first, _ = generate_demo_data("seed-a", "tiny", seed=7, now=NOW)
        second, _ = generate_demo_data("seed-b", "tiny", seed=7, now=NOW + timedelta(minutes=5))
    assert _fingerprint(first) == _fingerprint(second)


@pytest.mark.django_db
def test_another_seed_gives_other_data():
    with fast_hasher():
        first, _ = generate_demo_data("seed-a", "tiny", seed=7, now=NOW)
        second, _ = generate_demo_data("seed-b", "tiny", seed=8, now=NOW)
    assert _fingerprint(first)["chapters"] != _fingerprint(second)["chapters"]


@pytest.mark.django_db
def test_two_workspaces_from_one_seed_share_no_ids():
    with fast_hasher():
        first, _ = generate_demo_data("seed-a", "tiny", seed=7, now=NOW)
        second, _ = generate_demo_data("seed-b", "tiny", seed=7, now=NOW)
    ids = set(PageSession.objects.filter(workspace=first).values_list("id", flat=True))
    assert not ids & set(PageSession.objects.filter(workspace=second).values_list("id", flat=True))


@pytest.mark.django_db
def test_if_empty_does_nothing_the_second_time():
    out = StringIO()
    with fast_hasher():
        call_command("generate_demo_data", "--size", "tiny", "--workspace", "again", "--if-empty", stdout=out)
        counts = _fingerprint(Workspace.objects.get(slug="again"))["counts"]
        call_command("generate_demo_data", "--size", "tiny", "--workspace", "again", "--if-empty", stdout=out)
    assert "nothing to do" in out.getvalue()
    assert _fingerprint(Workspace.objects.get(slug="again"))["counts"] == counts


@pytest.mark.django_db
def test_generating_into_a_filled_workspace_without_if_empty_is_an_error():
    with fast_hasher():
        call_command("generate_demo_data", "--workspace", "again", stdout=StringIO())
        with pytest.raises(CommandError, match="--if-empty"):
            call_command("generate_demo_data", "--workspace", "again", stdout=StringIO())


@pytest.mark.django_db
def test_replace_generates_the_workspace_again():
    with fast_hasher():
        call_command("generate_demo_data", "--workspace", "again", "--seed", "3", stdout=StringIO())
        call_command("generate_demo_data", "--workspace", "again", "--seed", "4", "--replace", stdout=StringIO())
    workspace = Workspace.objects.get(slug="again")
    assert Membership.objects.filter(workspace=workspace).count() == 65
    assert User.objects.filter(email__endswith="@again.example").count() == 65


@pytest.mark.django_db
def test_command_reports_rows_and_time():
    out = StringIO()
    with fast_hasher():
        call_command("generate_demo_data", "--workspace", "report", stdout=out)
    text = out.getvalue()
    assert "Rows written:" in text and "analytics.PageSession" in text and "Done in" in text


def test_demo_logins_command_prints_urls_and_passwords(workspace):
    out = StringIO()
    call_command("demo_logins", "--url", "http://127.0.0.1:8011/", stdout=out)
    text = out.getvalue()
    for path in ("/accounts/login/", "/dashboard/", "/dashboards/", "/admin/", "/api/docs/"):
        assert f"http://127.0.0.1:8011{path}" in text
    for login in DEMO_LOGINS:
        assert demo_email(login) in text and login.password in text
    assert "create_api_key --workspace demo" in text


@pytest.mark.django_db
def test_demo_logins_command_says_how_to_generate_when_missing():
    out = StringIO()
    call_command("demo_logins", "--workspace", "nowhere", stdout=out)
    assert "generate_demo_data --workspace nowhere" in out.getvalue()


# --- the writers -------------------------------------------------------------------------------------


@on_postgresql
@pytest.mark.django_db
def test_copy_writer_round_trips_nulls_escapes_times_uuids_and_json():
    workspace = Workspace.objects.create(slug="copy", name="Copy")
    writer = CopyWriter()
    title = "Tabs\there, a back\\slash,\nnew line"
    writer.write(
        Course,
        (
            "workspace_id",
            "key",
            "title",
            "thumbnail",
            "created_at",
            "start",
            "end",
            "pacing",
            "catalog_course",
            "catalog_title",
        ),
        [(workspace.pk, "k1", title, "", 1_767_225_600, None, None, "", "", "")],
    )
    course = Course.objects.get(workspace=workspace, key="k1")
    assert course.title == title
    assert course.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    user = User.objects.create(email="copy@example.com")
    video = Video.objects.create(workspace=workspace, course=course, key="v1", duration_s=60)
    writer.write(
        VideoView,
        VIDEO_VIEW_COLUMNS,
        [
            (
                5,
                workspace.pk,
                user.pk,
                video.pk,
                course.pk,
                1_767_225_601,
                30,
                30,
                "[0,1,2]",
                True,
                False,
                False,
                "mobile",
                "ios",
                "",
                None,
                None,
                None,
                "tracker",
                1_767_225_700,
            )
        ],
    )
    view = VideoView.objects.get(workspace=workspace)
    assert str(view.id) == "00000000-0000-0000-0000-000000000005"
    assert view.segments == [0, 1, 2] and view.watched_first_segment and view.buffering_s is None


@on_postgresql
@pytest.mark.django_db
def test_postgresql_python_and_in_database_generation_give_the_same_shape():
    with fast_hasher():
        in_db, _ = generate_demo_data("in-db", "tiny", now=NOW, in_database=True)
        in_python, _ = generate_demo_data("in-python", "tiny", now=NOW, in_database=False)
    for workspace in (in_db, in_python):
        pages = set(PageSession.objects.filter(workspace=workspace).values_list("page", flat=True))
        assert pages == EXCLUDED_PAGES | COURSE_PAGES | {"Profile"}
        assert LearningEvent.objects.filter(workspace=workspace).count() == 4_000
    assert _fingerprint(in_db)["courses"] == _fingerprint(in_python)["courses"]
