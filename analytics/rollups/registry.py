"""The registry of derived tables: what each rollup holds, what it is computed from, how it is
kept (incremental refresh or marking stale) and how it is rebuilt from the raw rows.

Each entry delegates to the service that owns its SQL (learner_activity, courses.results,
course_info_rollups through `course_info.py` here, problem_rollups); nothing is re-implemented.

XapiStatementRelation is not registered: its rows are written with each statement and inherit
the relations of the statements it targets one link at a time, in the order statements arrive,
so a rebuild from the stored statements cannot reproduce an out-of-order chain exactly.
"""

from dataclasses import dataclass

from django.apps import apps


@dataclass(frozen=True)
class Changes:
    """What a write changed in one workspace, in the terms the rollups refresh by.

    pairs: (user_id, datetime or date) learner days; may_empty: some of those days may have lost
    all their rows (a delete, a moved start), not only gained or grown; result_pairs: (user_id,
    course_id) of enrollments and attempts; course_ids: courses whose figures changed in a way
    only a rebuild follows (course information marks them stale); users: users whose role or
    profile changed; activity: (course_id, user_id, moment, CourseActivityKind or None) of rows
    added to a course's activity, and audience: (video_id, user_id, watched first segment,
    watched last segment) of video views written, both counted by difference (rows written
    only: a row moved out of a course or week, or a flag cleared, goes in course_ids); groups:
    learner groups (pks) that `users` joined or left.
    """

    pairs: frozenset = frozenset()
    may_empty: bool = True
    result_pairs: frozenset = frozenset()
    course_ids: frozenset = frozenset()
    users: frozenset = frozenset()
    activity: frozenset = frozenset()
    audience: frozenset = frozenset()
    groups: frozenset = frozenset()

    def merge(self, other):
        return Changes(
            self.pairs | other.pairs,
            self.may_empty or other.may_empty,
            self.result_pairs | other.result_pairs,
            self.course_ids | other.course_ids,
            self.users | other.users,
            self.activity | other.activity,
            self.audience | other.audience,
            self.groups | other.groups,
        )


@dataclass(frozen=True)
class Rollup:
    """One family of derived tables.

    derived / sources: model labels ("app.Model"). refresh(workspace_id, changes): bring the
    derived rows up to date after a write of sources (in the writing transaction), or mark them
    stale. rebuild(workspace_id): recompute from the raw rows (None: every workspace).
    is_stale(workspace_id): readers do not use the rows now (None: never stale).
    global_rebuild: rebuild ignores the workspace and recomputes every workspace.
    ignored: columns a rebuild stamps (time of writing), not part of what the rollup says.
    zero_rows: derived models kept by difference, where a row of zeros equals no row.
    """

    name: str
    derived: tuple
    sources: tuple
    refresh: object
    rebuild: object
    is_stale: object = None
    global_rebuild: bool = False
    ignored: tuple = ()
    zero_rows: tuple = ()

    def derived_models(self):
        return [apps.get_model(label) for label in self.derived]

    def reads(self, model):
        return model._meta.label in self.sources


def history_horizon(workspace_id):
    """The moment before which the workspace's raw activity (LEARNER_SOURCES) was pruned
    (analytics.services.retention), or None. The rollups' rows of periods before it hold what
    the raw rows no longer can: a rebuild keeps them and recomputes only later periods."""
    from accounts.models import Workspace

    if workspace_id is None:
        return None
    return Workspace.objects.filter(pk=workspace_id).values_list("raw_activity_pruned_before", flat=True).first()


def pruned_workspace_ids():
    """Ids of the workspaces with a history horizon (raw activity pruned)."""
    from accounts.models import Workspace

    return list(Workspace.objects.filter(raw_activity_pruned_before__isnull=False).values_list("pk", flat=True))


def _per_workspace(rebuild):
    """rebuild(None) as one rebuild per workspace when some workspace has a history horizon (a
    rebuild of everything would recompute their history from raw rows that are gone)."""

    def each(workspace_id=None):
        if workspace_id is not None or not pruned_workspace_ids():
            return rebuild(workspace_id)
        from accounts.models import Workspace

        return [rebuild(pk) for pk in Workspace.objects.order_by("pk").values_list("pk", flat=True)]

    return each


def _refresh_learner_activity(workspace_id, changes):
    from analytics.services.learner_activity import refresh_learner_days, sync_learner_roles

    if changes.users:
        sync_learner_roles(workspace_id, changes.users)
    if changes.pairs:
        refresh_learner_days(workspace_id, changes.pairs, may_empty=changes.may_empty)


@_per_workspace
def _rebuild_learner_activity(workspace_id=None):
    from analytics.services.learner_activity import rebuild_learner_activity

    return rebuild_learner_activity(workspace_id, since=history_horizon(workspace_id))


def _refresh_video_days(workspace_id, changes):
    from analytics.services.video_days import refresh_video_days

    if changes.pairs:
        refresh_video_days(workspace_id, changes.pairs)


@_per_workspace
def _rebuild_video_days(workspace_id=None):
    from analytics.services.video_days import rebuild_video_days

    return rebuild_video_days(workspace_id, since=history_horizon(workspace_id))


def _refresh_video_windows(workspace_id, changes):
    # Nothing of its own: refresh_video_days adds each video-day's difference to the windows in
    # the same statement sequence (it alone still holds the stored rows the difference is of).
    return None


def _rebuild_video_windows(workspace_id=None):
    from analytics.services.video_windows import rebuild_video_windows

    return rebuild_video_windows(workspace_id)


def _video_windows_stale(workspace_id=None):
    from analytics.services.video_windows import video_windows_stale

    return video_windows_stale(workspace_id)


def _refresh_reaction_days(workspace_id, changes):
    from analytics.services.reaction_days import refresh_reaction_days

    refresh_reaction_days(workspace_id, changes.pairs, changes.users)


def _rebuild_reaction_days(workspace_id=None):
    from analytics.services.reaction_days import rebuild_reaction_days

    return rebuild_reaction_days(workspace_id)


def _refresh_results(workspace_id, changes):
    from courses.results import refresh_results

    refresh_results(changes.result_pairs)


def _rebuild_results(workspace_id=None):
    from courses.results import rebuild_results

    return rebuild_results(workspace_id)


def _refresh_result_totals(workspace_id, changes):
    from analytics.services.result_totals import refresh_group_totals, refresh_result_totals

    refresh_result_totals(
        workspace_id,
        {course_id for _, course_id in changes.result_pairs},
        user_ids={user_id for user_id, _ in changes.result_pairs},
    )
    # `users` and `groups` come only from the group membership rows (the other sources pass
    # result pairs): the users who joined or left the groups.
    if changes.users:
        refresh_group_totals(workspace_id, changes.users, changes.groups or None)


def _rebuild_result_totals(workspace_id=None):
    from analytics.services.result_totals import rebuild_result_totals

    return rebuild_result_totals(workspace_id)


def _result_totals_stale(workspace_id=None):
    from analytics.services.result_totals import result_totals_stale

    return result_totals_stale(workspace_id)


def _refresh_course_info(workspace_id, changes):
    from . import course_info

    course_info.note_write(workspace_id, changes.course_ids, changes.users, changes.activity, changes.audience)


@_per_workspace
def _rebuild_course_info(workspace_id=None):
    from . import course_info

    return course_info.rebuild(workspace_id, since=history_horizon(workspace_id))


def _course_info_is_stale(workspace_id):
    from . import course_info

    return course_info.is_stale(workspace_id)


def _refresh_problems(workspace_id, changes):
    # Writers of new responses keep these rollups by difference (problem_rollups.record_*);
    # anything else that changed raw rows recomputes the workspace's.
    from analytics.services.problem_rollups import rebuild_problem_rollups

    rebuild_problem_rollups(workspace_id)


def _rebuild_problems(workspace_id=None):
    from accounts.models import Workspace
    from analytics.services.problem_rollups import rebuild_problem_rollups

    workspace_ids = (
        [workspace_id] if workspace_id is not None else Workspace.objects.order_by("pk").values_list("pk", flat=True)
    )
    for each in workspace_ids:
        rebuild_problem_rollups(each)


LEARNER_SOURCES = ("analytics.PageSession", "analytics.LearningEvent", "analytics.VideoView")

# In refresh order: course information's passing counts read courses.Result.
ROLLUPS = (
    Rollup(
        name="learner_activity",
        derived=("analytics.LearnerDay", "analytics.LearnerActivity", "analytics.WorkspaceDay"),
        sources=(*LEARNER_SOURCES, "accounts.Membership"),
        refresh=_refresh_learner_activity,
        rebuild=_rebuild_learner_activity,
        zero_rows=("analytics.WorkspaceDay",),
    ),
    # After `learner_activity`: its per-user locks are already held in the transaction.
    Rollup(
        name="video_days",
        derived=("analytics.VideoViewerDay", "analytics.VideoDay"),
        sources=("analytics.VideoView",),
        refresh=_refresh_video_days,
        rebuild=_rebuild_video_days,
        zero_rows=("analytics.VideoDay",),
    ),
    # After `video_days`: sums of VideoDay over the summary's periods Nd, for the day they were
    # built for (stale on another day: the summary sums VideoDay until the minute beat rebuilds).
    Rollup(
        name="video_windows",
        derived=("analytics.VideoWindow", "analytics.VideoWindowTotal"),
        sources=("analytics.VideoView",),
        refresh=_refresh_video_windows,
        rebuild=_rebuild_video_windows,
        is_stale=_video_windows_stale,
        zero_rows=("analytics.VideoWindowTotal",),
    ),
    Rollup(
        name="reaction_days",
        derived=("analytics.ReactionDay",),
        sources=("analytics.VideoReaction", "accounts.Membership"),
        refresh=_refresh_reaction_days,
        rebuild=_rebuild_reaction_days,
    ),
    Rollup(
        name="results",
        derived=("courses.Result",),
        sources=("courses.Enrollment", "courses.Attempt"),
        refresh=_refresh_results,
        rebuild=_rebuild_results,
    ),
    # After `results`: the totals are sums of courses.Result rows, in all and per learner group
    # (whose membership rows, the `members` table of LearnerGroup, are a source).
    Rollup(
        name="result_totals",
        derived=("courses.ResultTotal", "courses.ResultGroupTotal"),
        sources=("courses.Enrollment", "courses.Attempt", "accounts.LearnerGroup_members"),
        refresh=_refresh_result_totals,
        rebuild=_rebuild_result_totals,
        is_stale=_result_totals_stale,
    ),
    Rollup(
        name="course_info",
        derived=(
            "analytics.CourseEnrollmentStep",
            "analytics.CourseActivityLearner",
            "analytics.CourseActivityWeek",
            "analytics.VideoAudienceUser",
            "analytics.VideoAudience",
            "analytics.CoursePassingCount",
        ),
        sources=(
            *LEARNER_SOURCES,
            "courses.Enrollment",
            "courses.Attempt",
            "courses.Video",
            "accounts.User",
            "accounts.Membership",
        ),
        refresh=_refresh_course_info,
        rebuild=_rebuild_course_info,
        is_stale=_course_info_is_stale,
    ),
    Rollup(
        name="problems",
        derived=(
            "analytics.ProblemPartLatest",
            "analytics.ProblemAnswerCount",
            "analytics.ProblemLearnerLatest",
            "analytics.ProblemGradeCount",
            "analytics.SubsectionLearner",
        ),
        sources=("analytics.ProblemResponse", "analytics.SubsectionOpen"),
        refresh=_refresh_problems,
        rebuild=_rebuild_problems,
        ignored=("updated_at",),
    ),
)

NAMES = tuple(entry.name for entry in ROLLUPS)


def rollup(name):
    """The registered rollup called `name` (KeyError when none is)."""
    for entry in ROLLUPS:
        if entry.name == name:
            return entry
    raise KeyError(name)


def rollups_reading(model):
    """The rollups computed from `model`'s rows, in refresh order."""
    return [entry for entry in ROLLUPS if entry.reads(model)]
