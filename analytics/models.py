"""Behaviour data: what learners did, as it arrived. Append-mostly, large tables."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Workspace
from analytics.rollups.querysets import RollupManager
from courses.models import Course, Video


class Device(models.TextChoices):
    DESKTOP = "desktop", "Desktop"
    MOBILE = "mobile", "Mobile"
    TABLET = "tablet", "Tablet"


class Platform(models.TextChoices):
    WEB = "web", "Web"
    IOS = "ios", "iOS"
    ANDROID = "android", "Android"


class EventSource(models.TextChoices):
    TRACKER = "tracker", "Tracker API"
    XAPI = "xapi", "xAPI statement"
    IMPORT = "import", "Import"
    TRACKING_LOG = "tracking_log", "Open edX tracking log"


class PageSession(models.Model):
    """Time a learner spent on one page. The id is made by the client, so re-sends update it.

    course_key / chapter_key are read from `/player/:courseId` and `/quiz/:courseId/:chapterId`
    paths; course is linked when that key is a known course of the workspace.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    # No single-column indexes on workspace and course: the composite indexes below lead with
    # them and serve every query (and cascade) on either; a heartbeat writes each index.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="page_sessions")
    page = models.CharField(max_length=100)
    path = models.CharField(max_length=500)
    started_at = models.DateTimeField()
    duration_s = models.PositiveIntegerField(default=0)
    course = models.ForeignKey(
        Course, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    course_key = models.CharField(max_length=255, blank=True)
    chapter_key = models.CharField(max_length=255, blank=True)
    device = models.CharField(max_length=10, choices=Device.choices, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    # Bulk updates and deletes refresh the rollups (analytics.rollups.querysets).
    objects = RollupManager()

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "user", "started_at"]),
            models.Index(fields=["course", "started_at"]),
            models.Index(fields=["workspace", "started_at"]),
        ]

    def __str__(self):
        return f"{self.user} on {self.page} ({self.duration_s}s)"


class LearningEvent(models.Model):
    """One learning action (played_video, attempted_problem, posted_forum, viewed, ...)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="learning_events")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    type = models.CharField(max_length=100)
    object = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=20, choices=EventSource.choices, default=EventSource.TRACKER)
    data = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    # Bulk updates and deletes refresh the rollups (analytics.rollups.querysets).
    objects = RollupManager()

    class Meta:
        indexes = [
            models.Index(fields=["course", "occurred_at"]),
            models.Index(fields=["course", "type", "occurred_at"]),
            models.Index(fields=["workspace", "user", "occurred_at"]),
            models.Index(fields=["workspace", "occurred_at"]),
        ]

    def __str__(self):
        return f"{self.user} {self.type} at {self.occurred_at:%Y-%m-%d %H:%M}"


class VideoView(models.Model):
    """One viewing of a video: how long, how far, which segments, on what, with what quality."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="video_views")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="views")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    watched_s = models.PositiveIntegerField(default=0)
    position_s = models.PositiveIntegerField(default=0, help_text="Furthest second reached")
    segments = models.JSONField(default=list, blank=True, help_text="Indexes of segments watched")
    watched_first_segment = models.BooleanField(default=False)
    watched_last_segment = models.BooleanField(default=False)
    is_completed = models.BooleanField(default=False)
    device = models.CharField(max_length=10, choices=Device.choices, blank=True)
    platform = models.CharField(max_length=10, choices=Platform.choices, blank=True)
    country = models.CharField(max_length=2, blank=True)
    buffering_s = models.FloatField(null=True, blank=True)
    bitrate_kbps = models.PositiveIntegerField(null=True, blank=True)
    errors = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=EventSource.choices, default=EventSource.TRACKER)
    received_at = models.DateTimeField(default=timezone.now)

    # Bulk updates and deletes refresh the rollups (analytics.rollups.querysets).
    objects = RollupManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(buffering_s__isnull=True) | Q(buffering_s__gte=0),
                name="video_view_buffering_non_negative",
            ),
        ]
        indexes = [
            # The VideoCloud video and summary figures read views from these two indexes alone
            # (PostgreSQL index-only scans; SQLite keeps the key columns only). Measured in
            # docs/benchmarks-video-cloud.md.
            models.Index(
                fields=["video", "started_at"],
                include=[
                    "workspace",
                    "user",
                    "watched_s",
                    "is_completed",
                    "buffering_s",
                    "bitrate_kbps",
                    "errors",
                    "country",
                    "device",
                    "platform",
                ],
                name="videoview_video_figures_idx",
            ),
            models.Index(fields=["course", "started_at"]),
            models.Index(fields=["workspace", "user", "started_at"]),
            models.Index(
                fields=["workspace", "started_at"],
                include=["video", "watched_s", "is_completed"],
                name="videoview_workspace_totals_idx",
            ),
        ]

    def __str__(self):
        return f"{self.user} watched {self.video} ({self.watched_s}s)"


class ReactionType(models.TextChoices):
    LIKE = "like", "Like"
    COMMENT = "comment", "Comment"
    SHARE = "share", "Share"


class VideoReaction(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="video_reactions")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="reactions")
    type = models.CharField(max_length=10, choices=ReactionType.choices)
    at = models.DateTimeField()

    objects = RollupManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "video", "type", "at"], name="reaction_unique"),
        ]
        indexes = [
            models.Index(fields=["video", "at"]),
            # A day's reactions recounted on write (analytics.services.reaction_days).
            models.Index(fields=["workspace", "at"], name="reaction_workspace_at_idx", include=["type", "user"]),
        ]

    def __str__(self):
        return f"{self.user} {self.type} {self.video}"


class ProblemResponse(models.Model):
    """One learner's answer to one part of a problem, as submitted (raw; every submission).

    `answer` is the answer's text; a list answer (checkboxes) is stored as `[a|b|c]`, Open edX's
    own spelling in its answer distributions. The id is derived from the source event where
    there is one, so a re-imported log line or re-sent statement adds nothing.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="problem_responses")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    problem_key = models.CharField(max_length=500, help_text="The problem's usage key (Open edX module_id)")
    part_id = models.CharField(max_length=255, help_text="The part (input) of the problem, e.g. `..._2_1`")
    answer = models.TextField(blank=True)
    value_id = models.CharField(max_length=255, blank=True, help_text="The chosen option's id(s), e.g. `choice_1`")
    correct = models.BooleanField(null=True, blank=True, help_text="Null: not graded")
    grade = models.FloatField(null=True, blank=True, help_text="Points of the whole problem for this submission")
    max_grade = models.FloatField(null=True, blank=True)
    variant = models.CharField(max_length=100, blank=True, help_text="The random seed of a randomized problem")
    attempt = models.PositiveIntegerField(null=True, blank=True)
    submitted_at = models.DateTimeField()
    question = models.TextField(blank=True)
    problem_name = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=20, choices=EventSource.choices, default=EventSource.IMPORT)
    received_at = models.DateTimeField(default=timezone.now)

    # Bulk updates and deletes refresh the rollups (analytics.rollups.querysets).
    objects = RollupManager()

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "course", "submitted_at"]),
            models.Index(fields=["workspace", "user", "submitted_at"]),
        ]

    def __str__(self):
        return f"{self.user} answered {self.problem_key} {self.part_id}"


class SubsectionOpen(models.Model):
    """A learner opened a subsection (an Open edX sequential) of a course (raw)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subsection_opens")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    subsection_key = models.CharField(max_length=500, help_text="The sequential's usage key")
    opened_at = models.DateTimeField()
    source = models.CharField(max_length=20, choices=EventSource.choices, default=EventSource.IMPORT)
    received_at = models.DateTimeField(default=timezone.now)

    # Bulk updates and deletes refresh the rollups (analytics.rollups.querysets).
    objects = RollupManager()

    class Meta:
        indexes = [models.Index(fields=["workspace", "user", "opened_at"])]

    def __str__(self):
        return f"{self.user} opened {self.subsection_key}"


class RequestMetric(models.Model):
    """One API request the service answered (for the system analytics endpoints)."""

    at = models.DateTimeField(default=timezone.now)
    workspace = models.ForeignKey(Workspace, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    method = models.CharField(max_length=10)
    endpoint = models.CharField(max_length=200, help_text="URL pattern, not the raw path")
    status = models.PositiveSmallIntegerField()
    latency_ms = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["at"]), models.Index(fields=["endpoint", "at"])]

    def __str__(self):
        return f"{self.method} {self.endpoint} {self.status} {self.latency_ms:.1f}ms"


class HealthCheck(models.Model):
    """One minute's check of the service (its database and its web process answering), written
    once a minute by the beat task analytics.tasks.check_health. The uptime of
    /analytics/system/health is the share of minutes since checks began with a successful one."""

    minute = models.DateTimeField(unique=True, help_text="Start of the UTC minute checked")
    is_up = models.BooleanField()
    checked_at = models.DateTimeField(default=timezone.now)
    detail = models.CharField(max_length=200, blank=True, help_text="Why the check failed")

    def __str__(self):
        return f"{self.minute:%Y-%m-%d %H:%M} {'up' if self.is_up else 'down'}"


class XapiStatement(models.Model):
    """An xAPI 1.0.3 statement, stored whole as received (plus the LRS's `stored` time).

    verb, actor and activity are copied out for the statements resource's filters.
    """

    id = models.UUIDField(primary_key=True)
    # Not indexed alone: (workspace, stored) leads with it (each index costs every write).
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    statement = models.JSONField()
    verb_id = models.CharField(max_length=500)
    actor_key = models.CharField(max_length=500, help_text="mbox, mbox_sha1sum, openid or account homePage|name")
    activity_id = models.CharField(max_length=1000, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    registration = models.CharField(max_length=36, blank=True, help_text="context.registration, lower case")
    timestamp = models.DateTimeField()
    stored = models.DateTimeField(default=timezone.now)
    is_voided = models.BooleanField(default=False)

    class Meta:
        verbose_name = "xAPI statement"
        # The GET filters read XapiStatementRelation; these serve the unfiltered page, a video
        # session's statements (actor and time) and the voiding statements (a small partial index).
        indexes = [
            models.Index(fields=["workspace", "stored"]),
            models.Index(fields=["workspace", "actor_key", "timestamp"], name="xapi_statement_actor_time"),
            models.Index(
                fields=["workspace", "stored"],
                condition=models.Q(verb_id="http://adlnet.gov/expapi/verbs/voided"),
                name="xapi_statement_voiding",
            ),
        ]

    def __str__(self):
        return f"{self.actor_key} {self.verb_id} {self.activity_id}"


class XapiStatementKey(models.Model):
    """The ids of the stored statements, on PostgreSQL only (written and deleted by triggers).

    Statements are partitioned by month of `stored` there, and a partitioned table's unique keys
    must include that column: this unpartitioned table keeps each statement id stored once, so a
    concurrent request storing the same id still fails with a unique violation (migration
    analytics 0021; docs/scaling.md). SQLite keeps the statements' own primary key and leaves it
    empty."""

    id = models.UUIDField(primary_key=True)

    class Meta:
        verbose_name = "xAPI statement key"


class XapiRelationKind(models.TextChoices):
    AGENT = "agent", "Agent"
    ACTIVITY = "activity", "Activity"
    VERB = "verb", "Verb"
    REGISTRATION = "registration", "Registration"
    STATEMENT_REF = "statementref", "Statement it targets"


class XapiStatementRelation(models.Model):
    """What a statement answers to in the filters of GET /xapi/statements (agent, activity, verb,
    registration), one row per (statement, kind, key); `statementref` rows name the statement
    it targets. is_direct: the agent or activity is the statement's actor or object (the plain
    filter); otherwise it is named elsewhere (authority, context, a SubStatement: only
    `related_agents` / `related_activities` find it). A statement that targets another by a
    StatementRef also holds the target's rows (xAPI's filter rule for StatementRefs). `stored`
    is copied from the statement so that a filtered page is one ordered index range."""

    # Neither key is indexed alone: xapi_relation_page leads with the workspace, xapi_relation_unique
    # with the statement.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    # No database constraint: statements are partitioned on PostgreSQL (their key includes
    # `stored`); Django's cascade and the erasure delete relations with their statement.
    statement = models.ForeignKey(
        XapiStatement, on_delete=models.CASCADE, related_name="relations", db_index=False, db_constraint=False
    )
    kind = models.CharField(max_length=12, choices=XapiRelationKind.choices)
    key = models.CharField(max_length=1000)
    is_direct = models.BooleanField()
    stored = models.DateTimeField()

    class Meta:
        verbose_name = "xAPI statement relation"
        constraints = [models.UniqueConstraint(fields=["statement", "kind", "key"], name="xapi_relation_unique")]
        indexes = [
            models.Index(
                fields=["workspace", "kind", "key", "stored", "statement", "is_direct"], name="xapi_relation_page"
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.key}"


class XapiDocumentKind(models.TextChoices):
    STATE = "state", "State"
    ACTIVITY_PROFILE = "activity_profile", "Activity profile"
    AGENT_PROFILE = "agent_profile", "Agent profile"


class XapiDocument(models.Model):
    """A document of the xAPI State, Activity Profile or Agent Profile resource.

    Which fields name it depends on the kind: a state by activity, agent, registration and
    stateId; an activity profile by activity and profileId; an agent profile by agent and
    profileId. The unused ones are empty, so that one unique constraint covers all three.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=XapiDocumentKind.choices)
    activity_id = models.CharField(max_length=1000, blank=True)
    agent_key = models.CharField(max_length=500, blank=True, help_text="as analytics.services.xapi.identity.agent_key")
    agent = models.JSONField(null=True, blank=True, help_text="the Agent as sent, for the Agents resource")
    registration = models.CharField(max_length=36, blank=True)
    document_id = models.CharField(max_length=1000)
    content = models.BinaryField()
    content_type = models.CharField(max_length=255)
    etag = models.CharField(max_length=64, help_text="SHA-1 of the content, hex")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "xAPI document"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "kind", "activity_id", "agent_key", "registration", "document_id"],
                name="xapi_document_unique",
            )
        ]
        indexes = [models.Index(fields=["workspace", "kind", "activity_id", "agent_key", "updated_at"])]

    def __str__(self):
        return f"{self.kind} {self.document_id}"


class XapiActivity(models.Model):
    """The canonical definition of an activity, as the statements of the workspace define it
    (the Activities resource): the latest definition sent, merged over the earlier ones."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    activity_id = models.CharField(max_length=1000)
    definition = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "xAPI activity"
        verbose_name_plural = "xAPI activities"
        constraints = [models.UniqueConstraint(fields=["workspace", "activity_id"], name="xapi_activity_unique")]

    def __str__(self):
        return self.activity_id


class XapiAttachment(models.Model):
    """The bytes of a statement attachment, by its SHA-2 hash; the file is in Django's storage
    (beside the export files), never in a JSON column. Statements name it by `sha2`."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    sha2 = models.CharField(max_length=128)
    content_type = models.CharField(max_length=255)
    length = models.PositiveBigIntegerField()
    file = models.FileField(upload_to="xapi-attachments/", max_length=300)
    stored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "xAPI attachment"
        constraints = [models.UniqueConstraint(fields=["workspace", "sha2"], name="xapi_attachment_unique")]

    def __str__(self):
        return self.sha2


# Rollups of the Open edX course information API (analytics.services.course_info_rollups).
# Rebuilt from the raw rows per course by Celery (the stale courses every few seconds and soon
# after writes; see CourseInfoState); never the only copy:
# analytics.queries.course_info computes the same numbers from the raw rows (from_raw=True).


class CourseEnrollmentStep(models.Model):
    """From `day` (inclusive) to `next_day` (exclusive; null = until further notice), `enrolled`
    learners of the course in `category` of `dimension` were enrolled at the end of each UTC day,
    and `ever_enrolled` had enrolled at some time. One row per day the numbers changed."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=20, help_text="total, mode, gender, birth_year, education_level, country")
    category = models.CharField(max_length=40, null=True, blank=True, help_text="Null or empty: unknown")
    day = models.DateField()
    next_day = models.DateField(null=True, blank=True)
    enrolled = models.IntegerField()
    ever_enrolled = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["course", "dimension", "next_day"], name="course_enrollment_step_idx")]

    def __str__(self):
        return f"{self.course_id} {self.dimension}={self.category} from {self.day}: {self.enrolled}"


class CourseActivityWeek(models.Model):
    """Distinct learners active in a course in one Monday-to-Monday UTC week, per activity."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateTimeField(help_text="Monday 00:00 UTC")
    any = models.PositiveIntegerField(default=0)
    attempted_problem = models.PositiveIntegerField(default=0)
    played_video = models.PositiveIntegerField(default=0)
    posted_forum = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "week_start"], name="course_activity_week_unique"),
        ]

    def __str__(self):
        return f"{self.course_id} week of {self.week_start:%Y-%m-%d}: {self.any}"


class CourseActivityKind(models.IntegerChoices):
    """What a learner did in a course week (CourseActivityLearner.activity; the columns of
    CourseActivityWeek)."""

    ANY = 0, "any"
    ATTEMPTED_PROBLEM = 1, "attempted_problem"
    PLAYED_VIDEO = 2, "played_video"
    POSTED_FORUM = 3, "posted_forum"


class CourseActivityLearner(models.Model):
    """A learner was active in a course in one Monday-to-Monday UTC week, in one activity: the
    presence behind CourseActivityWeek's counts, so that a write adds to a count only the
    (course, week, learner, activity) it makes new (analytics.services.course_info_rollups)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+", db_index=False)
    week_start = models.DateTimeField(help_text="Monday 00:00 UTC")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    activity = models.PositiveSmallIntegerField(choices=CourseActivityKind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course", "week_start", "user", "activity"], name="course_activity_learner_unique"
            ),
        ]

    def __str__(self):
        return f"{self.course_id} week of {self.week_start:%Y-%m-%d}: {self.user_id} {self.get_activity_display()}"


class VideoEdge(models.IntegerChoices):
    """The segment of a video a view covered (VideoAudienceUser.edge; VideoAudience's columns)."""

    START = 0, "start"
    END = 1, "end"


class VideoAudienceUser(models.Model):
    """A user watched the first (START) or the last (END) segment of a video: the presence behind
    VideoAudience's counts, kept by difference like CourseActivityLearner."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    edge = models.PositiveSmallIntegerField(choices=VideoEdge.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["video", "user", "edge"], name="video_audience_user_unique"),
        ]

    def __str__(self):
        return f"{self.video_id}: {self.user_id} at {self.get_edge_display()}"


class VideoAudience(models.Model):
    """Distinct learners who watched the first / the last segment of a video."""

    video = models.OneToOneField(Video, on_delete=models.CASCADE, primary_key=True, related_name="course_info_audience")
    users_at_start = models.PositiveIntegerField(default=0)
    users_at_end = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.video_id}: {self.users_at_start} at start, {self.users_at_end} at end"


class CoursePassingCount(models.Model):
    """Learners enrolled in a course (active or ended) under `mode` whose latest attempt passed
    (the course summaries' passing_users; analytics.queries.course_summaries)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=32)
    learners = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course", "mode"], name="course_passing_count_unique")]

    def __str__(self):
        return f"{self.course_id} {self.mode}: {self.learners} passing"


# Rollups of the problem figures (analytics.services.problem_rollups): maintained in the same
# transaction as every write of problem responses and subsection opens, so never stale.


class ProblemPartLatest(models.Model):
    """A learner's last submission of one part of a problem: the answer distributions count
    these (Open edX counts each learner's final answer)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    problem_key = models.CharField(max_length=500)
    part_id = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    submitted_at = models.DateTimeField()
    answer = models.TextField(blank=True)
    value_id = models.CharField(max_length=255, blank=True)
    correct = models.BooleanField(null=True, blank=True)
    variant = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "problem_key", "part_id", "user"], name="problem_part_latest_unique"
            ),
        ]

    def __str__(self):
        return f"{self.user_id} last answered {self.problem_key} {self.part_id}"


class ProblemAnswerCount(models.Model):
    """How many learners' last submission of a part gave this answer (rows with count 0 are
    deleted). Also carries the latest question text and problem name seen for the part."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    problem_key = models.CharField(max_length=500)
    part_id = models.CharField(max_length=255)
    answer = models.TextField(blank=True)
    value_id = models.CharField(max_length=255, blank=True)
    correct = models.BooleanField(null=True, blank=True)
    variant = models.CharField(max_length=100, blank=True)
    count = models.IntegerField(default=0)
    question = models.TextField(blank=True)
    problem_name = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "problem_key", "part_id"], name="problem_answer_count_idx"),
            models.Index(fields=["workspace", "course", "problem_key"], name="problem_answer_course_idx"),
        ]

    def __str__(self):
        return f"{self.problem_key} {self.part_id} {self.answer!r}: {self.count}"


class ProblemLearnerLatest(models.Model):
    """A learner's last graded submission of a problem: the grade distribution counts these."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    problem_key = models.CharField(max_length=500)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    submitted_at = models.DateTimeField()
    grade = models.FloatField()
    max_grade = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "problem_key", "user"], name="problem_learner_latest_unique"),
        ]

    def __str__(self):
        return f"{self.user_id} last scored {self.grade}/{self.max_grade} on {self.problem_key}"


class ProblemGradeCount(models.Model):
    """How many learners' last graded submission of a problem scored `grade` of `max_grade`."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    problem_key = models.CharField(max_length=500)
    grade = models.FloatField()
    max_grade = models.FloatField()
    count = models.IntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "problem_key", "grade", "max_grade"], name="problem_grade_count_unique"
            ),
        ]

    def __str__(self):
        return f"{self.problem_key} {self.grade}/{self.max_grade}: {self.count}"


class SubsectionLearner(models.Model):
    """A learner who opened a subsection, once: the sequential open distribution counts these."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    subsection_key = models.CharField(max_length=500)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    first_opened_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "subsection_key", "user"], name="subsection_learner_unique"),
        ]

    def __str__(self):
        return f"{self.user_id} opened {self.subsection_key}"


class CourseInfoState(models.Model):
    """Freshness of one course's course information rollups (CourseEnrollmentStep,
    CourseActivityWeek, VideoAudience, CoursePassingCount).

    `changed_at` is set after a write touching the course commits; `refreshed_at` is the start of
    the course's last rebuild (data committed before it is in the rollups). The course's rollups
    are fresh while changed_at < refreshed_at (or changed_at is null); a course without a row, or
    never rebuilt, is stale: readers then compute its numbers from the raw rows.
    """

    course = models.OneToOneField(Course, on_delete=models.CASCADE, primary_key=True, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    changed_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.course_id}: changed {self.changed_at}, refreshed {self.refreshed_at}"


class RollupState(models.Model):
    """When a family of rollups was last rebuilt and when its source data last changed.

    `refreshed_at` is the start of the last rebuild (data committed before it is in the rollups);
    `changed_at` is set after a write commits. Rollups are fresh while changed_at < refreshed_at;
    otherwise readers compute from the raw rows.
    """

    name = models.CharField(max_length=50, unique=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name


# Per-learner activity rollups (analytics.services.learner_activity): maintained in the same
# transaction as every write of page sessions, learning events and video views, so they are never
# stale. They hold every user's activity; readers narrow to the learner role themselves.


class LearnerDay(models.Model):
    """One user's activity in a workspace on one UTC day: what the VideoCloud user analytics and
    the dashboards' active-learner trend count. A row exists only when one of the counts is > 0."""

    # No database foreign keys nor their single-column indexes: millions of rows are written in
    # bulk and checking each one's user and workspace would double the cost; the ORM still
    # cascades deletes to them (a user's rows are found through a scan: deleting users is rare).
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    day = models.DateField(help_text="UTC date")
    page_sessions = models.PositiveIntegerField(default=0)
    page_seconds = models.BigIntegerField(default=0, help_text="Sum of the page sessions' duration_s")
    desktop_sessions = models.PositiveIntegerField(default=0)
    mobile_sessions = models.PositiveIntegerField(default=0)
    tablet_sessions = models.PositiveIntegerField(default=0)
    page_hours = models.IntegerField(default=0, help_text="Bit h set: a page session started in UTC hour h")
    events = models.PositiveIntegerField(default=0)
    forum_posts = models.PositiveIntegerField(default=0, help_text="posted_forum events")
    video_views = models.PositiveIntegerField(default=0)
    watch_seconds = models.BigIntegerField(default=0, help_text="Sum of the video views' watched_s")
    completed_views = models.PositiveIntegerField(default=0, help_text="Video views watched to the end")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user", "day"], name="learner_day_unique"),
        ]
        indexes = [
            models.Index(fields=["workspace", "day", "user"], name="learner_day_window_idx"),
            # A refresh of a learner's span reads all their days from this index alone
            # (services.learner_activity.SPAN_SOURCE_COLUMNS; INCLUDE is PostgreSQL's).
            models.Index(
                fields=["workspace", "user", "day"],
                include=["page_sessions", "page_seconds", "page_hours"],
                name="learner_day_span_idx",
            ),
        ]

    def __str__(self):
        return f"{self.user_id} on {self.day}"


# LearnerActivity's bitmap of the days before the last one: 63 days per word (the bits of a
# positive bigint), word i holding the day last_day - 63 i - k as bit k.
DAYS_PER_WORD = 63
RECENT_DAY_WORDS = ("recent_days", "recent_days_2", "recent_days_3")
RECENT_DAYS = DAYS_PER_WORD * len(RECENT_DAY_WORDS)  # 189: a 90-day period and the 90 days before


class LearnerActivity(models.Model):
    """A user's activity in a workspace summed from their LearnerDay rows: the first and the last
    UTC day with activity, whether they were active again 1, 7 and 30 days after the first, which
    of their last RECENT_DAYS days had activity, their page-session totals and, per UTC hour, the
    last day a page session started in it. With these, the VideoCloud user figures of a period
    ending today read one row per learner instead of one per learner-day."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_learner = models.BooleanField(
        default=False, help_text="The user has the learner role in the workspace (their days count in WorkspaceDay)"
    )
    first_day = models.DateField()
    last_day = models.DateField()
    is_back_day1 = models.BooleanField(default=False)
    is_back_day7 = models.BooleanField(default=False)
    is_back_day30 = models.BooleanField(default=False)
    recent_days = models.BigIntegerField(default=0, help_text="Bit k set: activity on last_day - k days")
    recent_days_2 = models.BigIntegerField(default=0, help_text="Bit k set: activity on last_day - 63 - k days")
    recent_days_3 = models.BigIntegerField(default=0, help_text="Bit k set: activity on last_day - 126 - k days")
    last_page_day = models.DateField(null=True, blank=True, help_text="The last day with a page session")
    page_days = models.PositiveIntegerField(default=0, help_text="Days with a page session")
    page_sessions = models.PositiveIntegerField(default=0)
    page_seconds = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "learner activities"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="learner_activity_unique"),
        ]
        indexes = [
            models.Index(fields=["workspace", "first_day"], name="learner_activity_first_idx"),
            models.Index(fields=["workspace", "last_day"], name="learner_activity_last_idx"),
        ]

    def __str__(self):
        return f"{self.user_id}: {self.first_day} to {self.last_day}"


for _hour in range(24):
    LearnerActivity.add_to_class(
        f"hour{_hour}_last_day",
        models.DateField(null=True, blank=True, help_text=f"The last day a page session started in UTC hour {_hour}"),
    )


class WorkspaceDay(models.Model):
    """A workspace's totals on one UTC day, sums of its LearnerDay rows kept by difference whenever
    those rows or a role change (analytics.services.learner_activity): page sessions and forum
    posts of its learners (users with the learner role), video views of every user (as the video
    summary counts them)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField(help_text="UTC date")
    page_days = models.IntegerField(default=0, help_text="Learner-days with a page session")
    bounce_days = models.IntegerField(default=0, help_text="Learner-days with exactly one page session")
    page_sessions = models.IntegerField(default=0)
    page_seconds = models.BigIntegerField(default=0)
    desktop_sessions = models.IntegerField(default=0)
    mobile_sessions = models.IntegerField(default=0)
    tablet_sessions = models.IntegerField(default=0)
    forum_posts = models.IntegerField(default=0)
    video_views = models.IntegerField(default=0, help_text="Every user's, not only learners'")
    watch_seconds = models.BigIntegerField(default=0, help_text="Every user's, not only learners'")
    completed_views = models.IntegerField(default=0, help_text="Every user's, not only learners'")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "day"], name="workspace_day_unique")]

    def __str__(self):
        return f"{self.workspace_id} on {self.day}"


class ReactionDay(models.Model):
    """A workspace's video reactions made on one UTC day, by type: every user's and its learners'
    (users with the learner role now). Recounted from the raw reactions for the days a write
    touched (analytics.services.reaction_days); a row exists only for a day with reactions."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    day = models.DateField(help_text="UTC date")
    likes = models.IntegerField(default=0)
    comments = models.IntegerField(default=0)
    shares = models.IntegerField(default=0)
    learner_likes = models.IntegerField(default=0)
    learner_comments = models.IntegerField(default=0)
    learner_shares = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "day"], name="reaction_day_unique")]

    def __str__(self):
        return f"{self.workspace_id} on {self.day}"


class VideoViewerDay(models.Model):
    """One user's views of one video started on one UTC day (every user, not only learners): the
    stored state VideoDay is kept from by difference (analytics.services.video_days). A row exists
    only when the user started a view of the video that day."""

    # No foreign keys on user and video: the refresh after their views are deleted (cascades
    # included) removes these rows itself, taking them out of VideoDay first.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    user_id = models.IntegerField()
    video_id = models.IntegerField()
    day = models.DateField(help_text="UTC date")
    views = models.PositiveIntegerField(default=0)
    watch_seconds = models.IntegerField(default=0, help_text="Sum of the views' watched_s")
    completed_views = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user_id", "day", "video_id"], name="video_viewer_day_unique"),
        ]

    def __str__(self):
        return f"{self.user_id} watched {self.video_id} on {self.day}"


class VideoDay(models.Model):
    """A video's views started on one UTC day (every user's), sums of its VideoViewerDay rows kept
    by difference: what the VideoCloud summary's top videos of a period add up."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    day = models.DateField(help_text="UTC date")
    video_id = models.IntegerField()
    # integer, not bigint: a period's SUM of integers is a bigint, of bigints a numeric (several
    # times slower to add up); one video's seconds of one day stay far below 2^31.
    views = models.IntegerField(default=0)
    watch_seconds = models.IntegerField(default=0)
    completed_views = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "day", "video_id"], name="video_day_unique")]

    def __str__(self):
        return f"video {self.video_id} on {self.day}"


class VideoWindow(models.Model):
    """The days a workspace's VideoWindowTotal rows of one window add up: [first_day, last_day]
    (UTC dates; last_day is the day the window totals were built for). Readers use the totals of a
    period `Nd` only when its days are exactly these (analytics.services.video_windows)."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    window_days = models.PositiveSmallIntegerField(help_text="N of the period Nd")
    first_day = models.DateField(help_text="UTC date")
    last_day = models.DateField(help_text="UTC date")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "window_days"], name="video_window_unique")]

    def __str__(self):
        return f"{self.workspace_id}: {self.first_day}..{self.last_day}"


class VideoWindowTotal(models.Model):
    """A video's views, seconds watched and completed views over the days of one VideoWindow: the
    sums of its VideoDay rows of those days, kept by difference with them (a row of zeros is the
    same as no row). What the VideoCloud summary's top videos of a period `Nd` read."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    window_days = models.PositiveSmallIntegerField()
    video_id = models.IntegerField()
    views = models.IntegerField(default=0)
    watch_seconds = models.BigIntegerField(default=0)
    completed_views = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "window_days", "video_id"], name="video_window_total_unique")
        ]
        # The most viewed videos of a window: the first rows of this index, read backwards.
        indexes = [models.Index(fields=["workspace", "window_days", "views"], name="video_window_total_views")]

    def __str__(self):
        return f"video {self.video_id} over {self.window_days} days"
