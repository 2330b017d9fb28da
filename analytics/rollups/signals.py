"""Single-row saves and deletes through the ORM (admin, shell, factories, cascades) routed to
changes.rows_changed; bulk write paths call it themselves.

These receivers keep learner_activity, video_days, reaction_days, results and result_totals (whose
per-group totals also follow `LearnerGroup.members` changes, through m2m_changed). Course information keeps its own receivers
(course_info_rollups.connect_signals: they also watch users' demographics), and the problem
rollups theirs (a deleted response rebuilds the workspace once, after commit): `only=` below
tells the rollups not kept another way.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from .changes import TIME_FIELDS, rows_changed

SIGNALLED = ("learner_activity", "video_days", "reaction_days", "results", "result_totals")


def _deleted_with_owner(origin):
    """The delete started from a workspace or a user (an instance or a queryset): their rollup
    rows go with them (cascade, or forget_user, forget_viewer and forget_reactor), so the rows deleted along
    need no refresh."""
    from accounts.models import User, Workspace

    model = getattr(origin, "model", None) or type(origin)
    return model in (Workspace, User)


def _deleted_with_course(origin):
    # Results of a deleted course go with it through their foreign key: recomputing a pair
    # whose course is being deleted would write it back.
    from courses.models import Course

    model = getattr(origin, "model", None) or type(origin)
    return model is Course


def _keys(sender, instance):
    """(workspace_id, user_id, course_id, time) of a source row as the instance has them."""
    time_field = TIME_FIELDS.get(sender._meta.label)
    return (
        instance.workspace_id,
        instance.user_id,
        getattr(instance, "course_id", None),
        getattr(instance, time_field) if time_field else None,
    )


def _tell(sender, keys_list, only=SIGNALLED):
    """rows_changed for rows as they were and are ([(workspace_id, user_id, course_id, time)])."""
    time_field = TIME_FIELDS.get(sender._meta.label)
    for workspace_id in sorted({keys[0] for keys in keys_list}):
        rows = [keys for keys in keys_list if keys[0] == workspace_id]
        rows_changed(
            workspace_id,
            sender,
            pairs=[(user_id, moment) for _, user_id, _, moment in rows if time_field and moment is not None],
            result_pairs=[(user_id, course_id) for _, user_id, course_id, _ in rows if course_id is not None],
            only=only,
        )


def _before_save(sender, instance, raw=False, **kwargs):
    if raw or instance._state.adding:
        return
    time_field = TIME_FIELDS.get(sender._meta.label)
    fields = ("workspace_id", "user_id", "course_id", *((time_field,) if time_field else ()))
    before = sender._base_manager.filter(pk=instance.pk).values_list(*fields).first()
    instance._rollup_keys_before = None if before is None else (*before, None)[:4]


def _after_save(sender, instance, raw=False, **kwargs):
    if raw:  # loaddata: fixtures carry no derived rows; `manage.py rollups rebuild` after
        return
    before = getattr(instance, "_rollup_keys_before", None)
    instance._rollup_keys_before = None
    _tell(sender, [keys for keys in (before, _keys(sender, instance)) if keys is not None])


def _after_delete(sender, instance, origin=None, **kwargs):
    if _deleted_with_owner(origin):
        return
    # A deleted course takes its results along, not its learners' days.
    _tell(
        sender,
        [_keys(sender, instance)],
        only=("learner_activity", "video_days", "reaction_days") if _deleted_with_course(origin) else SIGNALLED,
    )


def _membership_changed(sender, instance, raw=False, origin=None, **kwargs):
    if not raw and not _deleted_with_owner(origin):
        rows_changed(instance.workspace_id, sender, users=[instance.user_id], only=SIGNALLED)


def _group_members_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """m2m_changed of LearnerGroup.members (admin, shell, `group.members.add(...)`): the users who
    joined or left groups, and those groups, per workspace of the groups. A clear is told by
    the rows as they were (read before it)."""
    from accounts.models import LearnerGroup

    if action == "pre_clear":
        if reverse:  # user.learner_groups.clear()
            cleared = (set(instance.learner_groups.values_list("pk", flat=True)), {instance.pk})
        else:
            cleared = ({instance.pk}, set(instance.members.values_list("pk", flat=True)))
        instance._rollup_cleared = cleared
        return
    if action == "post_clear":
        group_ids, user_ids = getattr(instance, "_rollup_cleared", None) or (set(), set())
        instance._rollup_cleared = None
    elif action in ("post_add", "post_remove") and pk_set:
        group_ids, user_ids = (set(pk_set), {instance.pk}) if reverse else ({instance.pk}, set(pk_set))
    else:
        return
    by_workspace = {}
    for group_id, workspace_id in LearnerGroup.objects.filter(pk__in=group_ids).values_list("pk", "workspace_id"):
        by_workspace.setdefault(workspace_id, set()).add(group_id)
    for workspace_id, groups in sorted(by_workspace.items()):
        if user_ids:
            rows_changed(workspace_id, sender, users=user_ids, groups=groups)


def connect_signals():
    from accounts.models import LearnerGroup, Membership, User
    from analytics.models import LearningEvent, PageSession, VideoReaction, VideoView
    from analytics.services.reaction_days import forget_reactor
    from analytics.services.result_totals import forget_results
    from analytics.services.learner_activity import forget_user
    from analytics.services.video_days import forget_viewer
    from courses.models import Attempt, Enrollment

    m2m_changed.connect(
        _group_members_changed, sender=LearnerGroup.members.through, dispatch_uid="rollups-group-members"
    )
    post_save.connect(_membership_changed, sender=Membership, dispatch_uid="rollups-membership-save")
    post_delete.connect(_membership_changed, sender=Membership, dispatch_uid="rollups-membership-delete")
    pre_delete.connect(forget_user, sender=User, dispatch_uid="rollups-user-delete")
    pre_delete.connect(forget_viewer, sender=User, dispatch_uid="rollups-user-delete-video-days")
    pre_delete.connect(forget_reactor, sender=User, dispatch_uid="rollups-user-delete-reaction-days")
    pre_delete.connect(forget_results, sender=User, dispatch_uid="rollups-user-delete-result-totals")
    for model in (PageSession, LearningEvent, VideoView, VideoReaction, Enrollment, Attempt):
        uid = f"rollups-{model._meta.label_lower}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}-pre-save")
        post_save.connect(_after_save, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_after_delete, sender=model, dispatch_uid=f"{uid}-delete")
