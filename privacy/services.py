"""A learner's erasure in one workspace (issue 22): find the person, record a job, and remove
every row that holds them, keeping every rollup equal to a recount of what remains.

The work runs in short transactions of at most BATCH_SIZE rows (one kind at a time), each of
which deletes raw rows and, in the same transaction, tells the rollup registry what it removed
(analytics.rollups.changes.rows_changed_for inside changes.batched()): learner days, results,
result totals and course information are refreshed or marked for exactly those rows. The job's
counts are saved in the same transaction as the rows they count, so a retry after a failure
continues where the last committed batch ended and counts nothing twice; every step selects
"what of this person is still there", so re-running a finished step does nothing.

The problem rollups (whose registry refresh recomputes the whole workspace) are kept by
problem_rollups.forget_learner once the person's problem responses and subsection opens are
gone: their rows go and the counts of the problems they answered are recomputed.
"""

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.credential_cache import credentials_changed
from accounts.models import CustomFieldValue, LearnerGroup, Membership, User
from analytics.dashboards.cache import forget_workspace_sections
from analytics.models import (
    LearningEvent,
    PageSession,
    ProblemResponse,
    SubsectionOpen,
    VideoReaction,
    VideoView,
    XapiAttachment,
    XapiDocument,
    XapiDocumentKind,
    XapiRelationKind,
    XapiStatement,
    XapiStatementRelation,
)
from analytics.rollups.changes import TIME_FIELDS, batched, row_fields, rows_changed, rows_changed_for
from analytics.services.course_info_rollups import forget_course_presence
from analytics.services.learner_activity import forget_learner_days
from analytics.services.problem_rollups import forget_learner
from analytics.services.xapi.identity import agent_key
from analytics.services.xapi.mapping import learner_email
from courses.models import Attempt, Course, Enrollment
from exports.models import ExportJob, ExportStatus

from .models import ErasureJob, ErasureStatus

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000  # rows per transaction: < 1 s each on PostgreSQL (docs/privacy.md, Numbers)

# The raw rows of a person, in the order they are removed: (count key, model, keeps rollups).
# Enrollments and attempts before nothing else depends on them; problem rows without the
# registry's per-batch refresh (a workspace rebuild each time), which runs once after them.
RAW_KINDS = (
    ("page_sessions", PageSession, True),
    ("learning_events", LearningEvent, True),
    ("video_views", VideoView, True),
    ("video_reactions", VideoReaction, True),
    ("attempts", Attempt, True),
    ("enrollments", Enrollment, True),
    ("problem_responses", ProblemResponse, False),
    ("subsection_opens", SubsectionOpen, False),
)


class PersonNotFound(Exception):
    """Nothing of that person is in the workspace: no job is created."""


@dataclass
class Subject:
    """Whom an erasure removes: a user (may be None for an agent known only to the LRS) and the
    xAPI agent keys (analytics.services.xapi.identity.agent_key) that name them."""

    user_id: int | None
    agent_keys: list = field(default_factory=list)

    def as_json(self):
        return {"user_id": self.user_id, "agent_keys": sorted(set(self.agent_keys))}


@dataclass
class RunReport:
    """What one run did: the job and the longest single transaction it held (seconds)."""

    job: ErasureJob
    longest_transaction_s: float = 0.0
    transactions: int = 0
    longest_step: str = ""


def _email_keys(email):
    mbox = f"mailto:{email.strip().lower()}"
    return [mbox, "sha1:" + hashlib.sha1(mbox.encode()).hexdigest()]


def subject_hash(workspace_id, subject):
    """A keyed hash of the person's identity in the workspace (SECRET_KEY): finds a repeated
    request's job without keeping who it was."""
    identity = (
        f"{workspace_id}:user:{subject.user_id}" if subject.user_id else f"{workspace_id}:agents:{subject.agent_keys}"
    )
    return hmac.new(settings.SECRET_KEY.encode(), identity.encode(), hashlib.sha256).hexdigest()


def _statements_of_keys(workspace_id, keys):
    return XapiStatement.objects.filter(workspace_id=workspace_id, actor_key__in=keys)


def find_subject(workspace, *, email=None, user_public_id=None, agent=None):
    """The Subject named by exactly one of email, the user's public id or an xAPI agent, or
    PersonNotFound when the workspace holds nothing of them (no membership, no xAPI statement
    or document naming them)."""
    user = None
    keys = []
    if email is not None:
        user = User.objects.filter(email__iexact=email.strip()).first()
        keys = _email_keys(email)
    elif user_public_id is not None:
        user = User.objects.filter(public_id=user_public_id).first()
        if user is None:
            raise PersonNotFound()
    else:
        keys = [agent_key(agent)]
        mapped_email, _ = learner_email(agent)
        if mapped_email:
            user = User.objects.filter(email__iexact=mapped_email).first()
        if user is None:
            user_id = (
                _statements_of_keys(workspace.pk, keys).exclude(user_id=None).values_list("user_id", flat=True).first()
            )
            user = User.objects.filter(pk=user_id).first() if user_id else None
    if user is not None:
        keys += _email_keys(user.email)
        # The agent forms (accounts, openid) their statements were mapped from.
        keys += (
            XapiStatement.objects.filter(workspace_id=workspace.pk, user_id=user.pk)
            .values_list("actor_key", flat=True)
            .distinct()
        )
        if not Membership.objects.filter(workspace=workspace, user=user).exists() and not _has_xapi(workspace, keys):
            user = None
    keys = sorted(set(keys))
    if user is None and not _has_xapi(workspace, keys):
        raise PersonNotFound()
    return Subject(user.pk if user is not None else None, keys)


def _has_xapi(workspace, keys):
    return (
        XapiStatementRelation.objects.filter(workspace=workspace, kind=XapiRelationKind.AGENT, key__in=keys).exists()
        or _statements_of_keys(workspace.pk, keys).exists()
        or XapiDocument.objects.filter(workspace=workspace, agent_key__in=keys).exists()
    )


def request_erasure(workspace, subject, requested_by):
    """The job erasing the subject: the one queued or running for them if any (a repeated
    request), else a new queued job. Returns (job, created)."""
    digest = subject_hash(workspace.pk, subject)
    with transaction.atomic():
        active = (
            ErasureJob.objects.select_for_update()
            .filter(workspace=workspace, subject_hash=digest, status__in=[ErasureStatus.QUEUED, ErasureStatus.RUNNING])
            .first()
        )
        if active is not None:
            return active, False
        job = ErasureJob.objects.create(
            workspace=workspace, requested_by=requested_by[:150], subject_hash=digest, subject=subject.as_json()
        )
    return job, True


def requester_label(credential):
    """`user:<public id>` or `api_key:<name or prefix>`: who asked, without personal data."""
    if credential.kind == "api_key" and credential.api_key is not None:
        return f"api_key:{credential.api_key.name or credential.api_key.prefix}"
    return f"user:{credential.user.public_id}" if credential.user is not None else credential.kind


class _Run:
    def __init__(self, job, progress):
        self.job = job
        self.workspace_id = job.workspace_id
        self.user_id = job.subject.get("user_id")
        self.keys = job.subject.get("agent_keys", [])
        self.progress = progress or (lambda message: None)
        self.report = RunReport(job)

    # One short transaction: the work, then the job's counts (committed together).
    def transaction(self, work):
        started = time.monotonic()
        with transaction.atomic():
            counted = work()
            if counted:
                for kind, number in counted.items():
                    self.job.counts[kind] = self.job.counts.get(kind, 0) + number
                ErasureJob.objects.filter(pk=self.job.pk).update(counts=self.job.counts)
        self.note_transaction(time.monotonic() - started, ",".join(counted or ()) or getattr(work, "__name__", ""))
        after_batch(self.job, counted)
        return counted

    def note_transaction(self, elapsed, step):
        self.report.transactions += 1
        if elapsed > self.report.longest_transaction_s:
            self.report.longest_transaction_s = elapsed
            self.report.longest_step = step

    def delete_raw(self, kind, model, keeps_rollups):
        rows = model._base_manager.filter(workspace_id=self.workspace_id, user_id=self.user_id)
        order = [TIME_FIELDS[model._meta.label]] if model._meta.label in TIME_FIELDS else []
        removed = 0
        while True:

            def batch():
                # In time order: a batch then covers few learner days, and each refresh
                # recomputes only those days (in pk order every batch would touch every day).
                pks = list(rows.order_by(*order).values_list("pk", flat=True)[:BATCH_SIZE])
                if not pks:
                    return None
                selected = model._base_manager.filter(pk__in=pks)
                with batched():
                    keys = list(selected.values(*row_fields(model))) if keeps_rollups else []
                    number = selected._raw_delete(selected.db)
                    if keeps_rollups:
                        rows_changed_for(model, keys)
                return {kind: number}

            counted = self.transaction(batch)
            if not counted:
                break
            removed += counted[kind]
            self.progress(f"{kind}: {removed} removed")

    def forget_problem_rows(self):
        # Once per run when this job removed problem rows (in this run or an earlier try): the
        # person's latest rows go and the counts of their problems are recomputed
        # (problem_rollups.forget_learner; the registry's refresh would recompute the workspace).
        if self.job.counts.get("problem_responses") or self.job.counts.get("subsection_opens"):
            # Its own transaction, after a lock-free read of the question texts: only the locked
            # write counts as a transaction here.
            problems, locked_s = forget_learner(self.workspace_id, self.user_id)
            self.note_transaction(locked_s, "problem_rollups")
            self.progress(f"problem rollups: {problems} problems recomputed")

    def forget_pruned_days(self):
        """The person's learner days left once their raw rows are gone: days before the
        workspace's retention horizon live only in the rollups (docs/privacy.md, Retention)."""
        days = forget_learner_days(self.workspace_id, self.user_id)
        return {"pruned_learner_days": days} if days else {}

    def forget_course_presence(self):
        """The person's course activity and video audience presence, and the counts built on it
        (weeks before a retention horizon included). Not counted: derived rows, which a course
        refresh in between may already have removed."""
        forget_course_presence(self.workspace_id, self.user_id)
        return {}

    def statement_pks(self):
        by_relation = XapiStatementRelation.objects.filter(
            workspace_id=self.workspace_id, kind=XapiRelationKind.AGENT, key__in=self.keys
        ).values_list("statement_id", flat=True)[:BATCH_SIZE]
        found = set(by_relation)
        if len(found) < BATCH_SIZE:
            named = Q(actor_key__in=self.keys) | (Q(user_id=self.user_id) if self.user_id else Q(pk__in=[]))
            found |= set(
                XapiStatement.objects.filter(named, workspace_id=self.workspace_id).values_list("pk", flat=True)[
                    : BATCH_SIZE - len(found)
                ]
            )
        return sorted(found)

    def delete_statements(self):
        """Statements naming the person anywhere (actor, authority, context team or instructor,
        a group's member, a SubStatement: their agent relation rows), or mapped to their user;
        with their relation rows; then the attachments only they used."""
        attachments = set(self.job.subject.get("attachments", []))
        while True:

            def batch():
                pks = self.statement_pks()
                if not pks:
                    return None
                statements = XapiStatement.objects.filter(pk__in=pks)
                with_files = statements.filter(
                    Q(statement__has_key="attachments") | Q(statement__object__has_key="attachments")
                ).values_list("statement", flat=True)
                for body in with_files:
                    for item in [
                        *(body.get("attachments") or []),
                        *((body.get("object") or {}).get("attachments") or []),
                    ]:
                        if isinstance(item, dict) and item.get("sha2"):
                            attachments.add(str(item["sha2"]).lower())
                relations = XapiStatementRelation.objects.filter(statement_id__in=pks)
                relation_count = relations._raw_delete(relations.db)
                number = statements._raw_delete(statements.db)
                if attachments:
                    # A retry must still know them once the statements naming them are gone.
                    self.job.subject["attachments"] = sorted(attachments)
                    ErasureJob.objects.filter(pk=self.job.pk).update(subject=self.job.subject)
                return {"xapi_statements": number, "xapi_statement_relations": relation_count}

            if not self.transaction(batch):
                break
            self.progress(f"xapi_statements: {self.job.counts.get('xapi_statements', 0)} removed")
        if attachments:
            self.transaction(lambda: self.delete_attachments(attachments))

    def delete_attachments(self, sha2s):
        removed = 0
        for sha2 in sorted(sha2s):
            still_used = XapiStatement.objects.filter(
                workspace_id=self.workspace_id, statement__icontains=sha2
            ).exists()
            if still_used:
                continue
            for attachment in XapiAttachment.objects.filter(workspace_id=self.workspace_id, sha2=sha2):
                transaction.on_commit(lambda name=attachment.file.name: default_storage.delete(name))
                attachment.delete()
                removed += 1
        return {"xapi_attachments": removed}

    def delete_documents(self):
        documents = XapiDocument.objects.filter(
            workspace_id=self.workspace_id,
            kind__in=[XapiDocumentKind.STATE, XapiDocumentKind.AGENT_PROFILE],
            agent_key__in=self.keys,
        )
        return {"xapi_documents": documents._raw_delete(documents.db)}

    def delete_account_rows(self):
        """Profile values, groups, courses taught, export requests and the membership (its
        delete tells the learner-activity and course-information rollups)."""
        if not self.user_id:
            return {}
        values = CustomFieldValue.objects.filter(field__workspace_id=self.workspace_id, user_id=self.user_id)
        groups = LearnerGroup.members.through.objects.filter(
            learnergroup__workspace_id=self.workspace_id, user_id=self.user_id
        )
        taught = Course.instructors.through.objects.filter(course__workspace_id=self.workspace_id, user_id=self.user_id)
        ExportJob.objects.filter(workspace_id=self.workspace_id, requested_by_id=self.user_id).update(requested_by=None)
        group_ids = list(groups.values_list("learnergroup_id", flat=True))
        group_memberships = groups.delete()[0]
        if group_memberships:  # the per-group Analyse totals (a queryset delete sends no m2m_changed)
            rows_changed(self.workspace_id, LearnerGroup.members.through, users=[self.user_id], groups=group_ids)
        counted = {
            "profile_values": values.delete()[0],
            "group_memberships": group_memberships,
            "courses_taught": taught.delete()[0],
        }
        counted["memberships"] = Membership.objects.filter(
            workspace_id=self.workspace_id, user_id=self.user_id
        ).delete()[0]
        return counted

    def delete_export_files(self):
        """Every finished export of the workspace created before this erasure could hold the
        person: its file is deleted and the job marked expired."""
        exports = ExportJob.objects.filter(
            workspace_id=self.workspace_id, status=ExportStatus.COMPLETED, created_at__lt=timezone.now()
        ).exclude(file_name="")
        names = list(exports.values_list("file_name", flat=True))
        for name in names:
            transaction.on_commit(lambda name=name: default_storage.delete(name))
        number = exports.update(
            status=ExportStatus.EXPIRED, file_name="", error="File deleted: a learner's erasure (privacy)"
        )
        return {"export_files": number}

    def delete_user(self):
        """The User row goes when no other workspace knows them; else it stays (their other
        workspace's rows are untouched)."""
        if not self.user_id or Membership.objects.filter(user_id=self.user_id).exists():
            return {}
        return {"users": User.objects.filter(pk=self.user_id).delete()[1].get(User._meta.label, 0)}

    def run(self):
        if self.user_id:
            for kind, model, keeps_rollups in RAW_KINDS:
                self.delete_raw(kind, model, keeps_rollups)
            self.forget_problem_rows()
            self.transaction(self.forget_pruned_days)
            self.transaction(self.forget_course_presence)
        if self.keys:
            self.delete_statements()
            self.transaction(self.delete_documents)
        self.transaction(self.delete_account_rows)
        self.transaction(self.delete_export_files)
        self.transaction(self.delete_user)
        forget_workspace_sections(self.workspace_id)
        credentials_changed()
        return self.report


def after_batch(job, counted):
    """Called after each committed transaction of a run (a seam for tests that fail midway)."""


def run_erasure(job_id, progress=None):
    """Erase the job's subject (idempotent: a retry continues; a finished job is left as it is).
    Marks the job running, then done with its subject emptied; on an error the job keeps its
    subject and the error, and the exception is raised for the caller to retry. Returns a
    RunReport."""
    job = ErasureJob.objects.get(pk=job_id)
    if job.status == ErasureStatus.DONE:
        return RunReport(job)
    job.status = ErasureStatus.RUNNING
    job.started_at = job.started_at or timezone.now()
    job.tries += 1
    job.error = ""
    job.save(update_fields=["status", "started_at", "tries", "error"])
    try:
        report = _Run(job, progress).run()
    except Exception as error:
        ErasureJob.objects.filter(pk=job.pk).update(error=f"{type(error).__name__}: {error}"[:2000])
        raise
    job.status = ErasureStatus.DONE
    job.finished_at = timezone.now()
    job.subject = {}
    job.save(update_fields=["status", "finished_at", "subject", "counts"])
    return report


def mark_erasure_failed(job_id, error):
    """The last retry failed: the job says so (its subject is kept for a later run_erasure)."""
    ErasureJob.objects.filter(pk=job_id).exclude(status=ErasureStatus.DONE).update(
        status=ErasureStatus.FAILED, error=str(error)[:2000], finished_at=timezone.now()
    )
