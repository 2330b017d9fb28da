from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.ids import new_object_id
from accounts.models import Workspace
from analytics.rollups.querysets import RollupManager


class CoursePacing(models.TextChoices):
    SELF_PACED = "self_paced", "Self-paced"
    INSTRUCTOR_PACED = "instructor_paced", "Instructor-paced"


class Course(models.Model):
    """A course. `key` is its public id: an edX key (`course-v1:edX+DemoX+Demo_Course`,
    `edX/DemoX/Demo_Course`) or a 24-hex id, unique inside its workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="courses")
    key = models.CharField(max_length=255)
    title = models.CharField(max_length=300)
    thumbnail = models.URLField(max_length=500, blank=True)
    instructors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="taught_courses", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Catalog facts, as the Open edX course summaries report them.
    start = models.DateTimeField(null=True, blank=True, help_text="When the course starts; null: not known")
    end = models.DateTimeField(null=True, blank=True, help_text="When the course ends; null: not known")
    pacing = models.CharField(max_length=20, choices=CoursePacing.choices, blank=True)
    catalog_course = models.CharField(
        max_length=255, blank=True, help_text="The catalog course this run belongs to (`edX+DemoX`)"
    )
    catalog_title = models.CharField(max_length=300, blank=True, help_text="The catalog course's title")

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="course_unique_key"),
        ]

    def __str__(self):
        return self.title or self.key


class Program(models.Model):
    """A program: a set of courses sold or taken together (Open edX's programs)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="programs")
    key = models.CharField(max_length=255, help_text="The program's id (Open edX: a UUID)")
    title = models.CharField(max_length=300)
    program_type = models.CharField(max_length=100, blank=True, help_text="XSeries, MicroMasters...")
    courses = models.ManyToManyField(Course, related_name="programs", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="program_unique_key"),
        ]

    def __str__(self):
        return self.title or self.key


class Chapter(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="chapters")
    key = models.CharField(max_length=255)
    title = models.CharField(max_length=300)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["course", "position", "key"]
        constraints = [
            models.UniqueConstraint(fields=["course", "key"], name="chapter_unique_key"),
        ]

    def __str__(self):
        return self.title or self.key


class Video(models.Model):
    """A video of a course. Its key is unique in the workspace: views name videos by key alone."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="videos")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="videos")
    chapter = models.ForeignKey(Chapter, on_delete=models.SET_NULL, null=True, blank=True, related_name="videos")
    key = models.CharField(max_length=255)
    title = models.CharField(max_length=300, blank=True)
    duration_s = models.PositiveIntegerField(default=0)
    segment_length_s = models.PositiveIntegerField(default=5)
    created_at = models.DateTimeField(default=timezone.now)

    # Bulk updates and deletes refresh the rollups (analytics.rollups.querysets).
    objects = RollupManager()

    class Meta:
        ordering = ["course", "key"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="video_unique_key"),
            models.CheckConstraint(condition=Q(segment_length_s__gt=0), name="video_segment_positive"),
        ]

    def __str__(self):
        return self.title or self.key

    @property
    def segment_count(self):
        """Segments of segment_length_s covering the duration (at least one)."""
        return max(1, -(-self.duration_s // self.segment_length_s))


class EnrollmentMode(models.TextChoices):
    AUDIT = "audit", "Audit"
    HONOR = "honor", "Honor"
    VERIFIED = "verified", "Verified"
    PROFESSIONAL = "professional", "Professional"
    NO_ID_PROFESSIONAL = "no-id-professional", "Professional (no ID)"
    CREDIT = "credit", "Credit"
    MASTERS = "masters", "Master's"
    EXECUTIVE_EDUCATION = "executive-education", "Executive education"


class EnrollmentKind(models.TextChoices):
    MANDATORY = "MANDATORY", "Mandatory"
    OPTIONAL = "OPTIONAL", "Optional"


class Enrollment(models.Model):
    """A learner's enrollment in a course; unenrolled_at set when they left."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="enrollments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    mode = models.CharField(max_length=32, choices=EnrollmentMode.choices, default=EnrollmentMode.AUDIT)
    kind = models.CharField(max_length=10, choices=EnrollmentKind.choices, default=EnrollmentKind.OPTIONAL)
    enrolled_at = models.DateTimeField()
    unenrolled_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Bulk updates and deletes refresh the rollups (analytics.rollups.querysets).
    objects = RollupManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "course"], name="enrollment_unique_user_course"),
            models.CheckConstraint(
                condition=Q(unenrolled_at__isnull=True) | Q(unenrolled_at__gte=F("enrolled_at")),
                name="enrollment_unenrolled_after_enrolled",
            ),
        ]
        indexes = [
            models.Index(fields=["course", "enrolled_at"]),
            models.Index(fields=["workspace", "course", "kind"]),
            # Course summaries' passing learners per mode: their results joined to their
            # enrollments' mode, index-only (docs/api/course_info.md, "Course summaries").
            models.Index(fields=["course", "user"], include=["mode"], name="enrollment_course_mode_idx"),
        ]

    def __str__(self):
        return f"{self.user} in {self.course}"


class AttemptState(models.TextChoices):
    NOT_STARTED = "NOT_STARTED", "Not started"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    APPROVED = "APPROVED", "Approved"
    FAILED = "FAILED", "Failed"
    EXPIRED = "EXPIRED", "Expired"


class Attempt(models.Model):
    """A learner's result in a course (one per course version): progress, score, time spent."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="attempts")
    public_id = models.CharField(max_length=24, unique=True, default=new_object_id)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempts")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="attempts")
    version_number = models.PositiveIntegerField(default=0)
    lang = models.CharField(max_length=16, blank=True)
    state = models.CharField(max_length=12, choices=AttemptState.choices, default=AttemptState.IN_PROGRESS)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent, 0-100")
    score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Percent, 0-100")
    time_spent_s = models.PositiveIntegerField(default=0)
    first_activity_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    certificate_issued_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    path_id = models.CharField(max_length=24, blank=True)
    path_session_id = models.CharField(max_length=24, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # Bulk updates and deletes refresh the rollups (analytics.rollups.querysets).
    objects = RollupManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "course", "version_number"], name="attempt_unique_user_course_version"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="attempt_progress_0_100"),
            models.CheckConstraint(condition=Q(score__isnull=True) | Q(score__lte=100), name="attempt_score_0_100"),
        ]
        indexes = [
            models.Index(fields=["workspace", "id"]),
            # No (course, user) index: lookups by course use the course key's own index, by
            # learner and course the unique constraint; Analyse reads courses.Result.
            models.Index(fields=["workspace", "last_activity_at"]),
        ]

    def __str__(self):
        return f"{self.user} / {self.course} v{self.version_number}"


# What a page's cut, a count and the statistics of a scope read besides the key columns: the
# stored columns and both versions of those that depend on the clock (see Result).
_RESULT_CARRIED = [
    "workspace",
    "enrollment_ends_at",
    "attempt_public_id",
    "state",
    "progress",
    "score",
    "time_spent_s",
    "certificate_issued_at",
    "expires_at",
    "attempt_expires_at",
    "enrollment_kind",
    "activity_at",
    "attempt_activity_at",
]
_RESULT_ENDED = Q(enrollment_ends_at__isnull=False)


class Result(models.Model):
    """One Analyse result per (learner, course) that has an attempt or an enrollment: the latest
    attempt (highest version_number) and the enrollment, precomputed on write by
    courses.results.refresh_results (see there and analytics/queries/analyse/).

    Columns hold what does not depend on the clock. What does is decided when reading, from
    enrollment_ends_at: while the enrollment is active (no end, or an end after now) the row reads
    expires_at / activity_at / enrollment_kind; once it has ended, the attempt's own
    attempt_expires_at / attempt_activity_at and NOT_ENROLLED, and a row without attempt is no
    result at all. EXPIRED (expiry before now, not APPROVED) is decided when reading too.
    """

    # No single-column indexes: the indexes below start with each of these keys.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+", db_index=False)
    attempt_public_id = models.CharField(max_length=24, null=True, blank=True)
    state = models.CharField(max_length=12, choices=AttemptState.choices)
    progress = models.PositiveSmallIntegerField(default=0)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    time_spent_s = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    certificate_issued_at = models.DateTimeField(null=True, blank=True)
    # With the enrollment active: the enrollment's expiry, else the attempt's.
    expires_at = models.DateTimeField(null=True, blank=True)
    # Without it (no enrollment, or it has ended): the attempt's expiry.
    attempt_expires_at = models.DateTimeField(null=True, blank=True)
    enrollment_kind = models.CharField(max_length=10, choices=EnrollmentKind.choices, null=True, blank=True)
    enrollment_ends_at = models.DateTimeField(null=True, blank=True)
    # updatedAt with the enrollment active: the later of last activity and completion, else the
    # first activity, else the enrollment date, else when the attempt was recorded.
    activity_at = models.DateTimeField()
    # The same without the enrollment date (NULL without attempt).
    attempt_activity_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Measured in docs/benchmarks-analyse.md. A scope of learners (groups, users, custom
        # fields) or of courses (contents, instructor) is read in ONE pass over the scope's
        # entries of the (user, course) or (course, user) index, which carry every column the
        # cut, the count and the statistics read, both versions of the clock-dependent ones
        # included: index-only scans on PostgreSQL (SQLite keeps the key columns), wherever the
        # rows lie in the table. The (user, course) one is the unique constraint's own index.
        # Without a scope, a page in the default order (updatedAt DESC, learner, course) follows
        # the workspace index and stops after the page; rows whose enrollment has ended (or
        # will: 2 % of them in the benchmark) are read by the attempt's activity, through the
        # small partial index.
        constraints = [
            models.UniqueConstraint(
                fields=["user", "course"], include=_RESULT_CARRIED, name="result_unique_user_course"
            ),
        ]
        indexes = [
            models.Index(
                fields=["workspace", "-activity_at", "user", "course"],
                include=["enrollment_ends_at", "attempt_public_id"],
                name="result_workspace_activity_idx",
            ),
            models.Index(fields=["course", "user"], include=_RESULT_CARRIED, name="result_course_idx"),
            # The same walk for the whole workspace's pages in the other orders the dashboard
            # and the benchmark use (progress descending, score ascending: NULLs last, as a
            # B-tree keeps them): both parts stop after the page instead of sorting every row.
            models.Index(
                fields=["workspace", "-progress", "user", "course"],
                include=["enrollment_ends_at", "attempt_public_id"],
                name="result_workspace_progress_idx",
            ),
            models.Index(
                fields=["workspace", "score", "user", "course"],
                include=["enrollment_ends_at", "attempt_public_id"],
                name="result_workspace_score_idx",
            ),
            # The total of a large scope of learners whose page walks the workspace index: only
            # which rows count (workspace, ended enrollment without attempt), half the width of
            # the unique constraint's index, so its entries stay in the buffer cache.
            models.Index(
                fields=["user", "workspace"],
                include=["enrollment_ends_at", "attempt_public_id"],
                name="result_user_count_idx",
            ),
            models.Index(
                fields=["workspace", "-attempt_activity_at", "user", "course"],
                condition=_RESULT_ENDED,
                name="result_ended_activity_idx",
            ),
            # The rows whose figures change on a given day (ResultTotal leaves them to the
            # reader): the three clock boundaries, each a small partial index.
            models.Index(fields=["workspace", "enrollment_ends_at"], condition=_RESULT_ENDED, name="result_ends_idx"),
            models.Index(
                fields=["workspace", "expires_at"],
                condition=Q(expires_at__isnull=False),
                name="result_expires_idx",
            ),
            models.Index(
                fields=["workspace", "attempt_expires_at"],
                condition=Q(attempt_expires_at__isnull=False),
                name="result_attempt_expires_idx",
            ),
        ]

    def __str__(self):
        return f"{self.user_id} / {self.course_id}: {self.state}"


class ResultSums(models.Model):
    """The sums the Analyse statistics add up, of a set of Result rows of one (enrollment type,
    effective state): ResultTotal's per course, ResultGroupTotal's per course and learner group."""

    enrollment_type = models.CharField(max_length=12)
    state = models.CharField(max_length=12, choices=AttemptState.choices)
    results = models.IntegerField(default=0)
    progress_sum = models.BigIntegerField(default=0)
    scored = models.IntegerField(default=0)
    score_sum = models.BigIntegerField(default=0)
    certificates = models.IntegerField(default=0)
    time_spent_s = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class ResultTotal(ResultSums):
    """Sums of a course's Result rows per (enrollment type, effective state) as they read on one
    UTC day (`ResultTotalsState.day`), for the Analyse statistics without learner filters.

    Rows with a clock boundary on that day (enrollment end, or an expiry of a row not APPROVED)
    are left out: they change during the day, so readers count them from Result with the real
    time. Every other row reads the same all day long. Kept by analytics.services.result_totals
    (a course recomputed when its results change; the workspace recomputed on a new day)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "enrollment_type", "state"], name="result_total_unique"),
        ]
        indexes = [models.Index(fields=["workspace", "course"], name="result_total_workspace_idx")]

    def __str__(self):
        return f"{self.course_id} {self.enrollment_type} {self.state}: {self.results}"


class ResultGroupTotal(ResultSums):
    """The sums of ResultTotal per learner group: a course's Result rows of the group's members
    per (enrollment type, effective state), as they read on the day `ResultTotalsState.day`
    holds, the rows with a clock boundary that day left out (readers count them). For the
    Analyse statistics and the page total of one group. Kept with ResultTotal by
    analytics.services.result_totals: a course's groups recomputed when its results change, a
    member's courses when their groups change."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey("accounts.LearnerGroup", on_delete=models.CASCADE, related_name="+", db_index=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "course", "enrollment_type", "state"], name="result_group_total_unique"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "course"], name="result_group_total_course_idx")]

    def __str__(self):
        return f"{self.group_id} {self.course_id} {self.enrollment_type} {self.state}: {self.results}"


class ResultTotalsState(models.Model):
    """The UTC day a workspace's ResultTotal and ResultGroupTotal rows hold (no row: never built, the first write of
    results builds them). Readers use them only on that day; writers of results hold this row
    shared, a rebuild exclusively."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+")
    day = models.DateField(null=True, help_text="UTC date; None: stale (the results were reloaded in bulk)")

    def __str__(self):
        return f"{self.workspace_id} on {self.day}"
