"""Writing the documents of the State, Activity Profile and Agent Profile resources (xAPI
Communication 2.2-2.7, 3.1): store, merge, delete, with ETag preconditions.

A document is bytes with a content type. POST merges one JSON object into the stored one (its
top-level keys overwrite); PUT replaces. If-Match / If-None-Match are checked against the stored
document's ETag (the SHA-1 of its bytes) in the same transaction as the write.
"""

import hashlib
import json
import math
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics.models import XapiDocument, XapiDocumentKind
from analytics.services.xapi.errors import DocumentConflict, PreconditionFailed, StatementInvalid

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class DocumentScope:
    """Which documents of a workspace a request names: its kind and the fields of that kind
    (the others empty). document_id None: every document of the scope."""

    kind: str
    activity_id: str = ""
    agent_key: str = ""
    registration: str = ""

    def filter(self, workspace, *, many=False):
        """The scope's documents; many (listing ids, deleting all): a State scope without a
        registration takes the states of every registration, as other LRSs do."""
        documents = XapiDocument.objects.filter(
            workspace=workspace, kind=self.kind, activity_id=self.activity_id, agent_key=self.agent_key
        )
        if many and self.kind == XapiDocumentKind.STATE and not self.registration:
            return documents
        return documents.filter(registration=self.registration)


@dataclass(frozen=True)
class Preconditions:
    """If-Match (an ETag or *) and If-None-Match (* only is meaningful here)."""

    if_match: str | None = None
    if_none_match: str | None = None

    @property
    def given(self):
        return self.if_match is not None or self.if_none_match is not None

    def check(self, document):
        if self.if_match is not None:
            tags = {tag.strip().strip('"') for tag in self.if_match.split(",")}
            if document is None or ("*" not in tags and document.etag not in tags):
                raise PreconditionFailed("If-Match: the document is not at that version (or does not exist)")
        if self.if_none_match is not None and document is not None:
            tags = {tag.strip().strip('"') for tag in self.if_none_match.split(",")}
            if "*" in tags or document.etag in tags:
                raise PreconditionFailed("If-None-Match: the document already exists")


def etag_of(content):
    return hashlib.sha1(content).hexdigest()


def is_json(content_type):
    return (content_type or "").split(";")[0].strip().lower() == JSON_TYPE


def _finite(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond a double's range")
    return value


def json_object(content, what):
    """content parsed as a JSON object, or StatementInvalid naming what."""
    try:
        value = json.loads(content, parse_float=_finite, parse_constant=_finite)
    except (ValueError, UnicodeDecodeError):
        raise StatementInvalid(f"{what}: is not valid JSON") from None
    if not isinstance(value, dict):
        raise StatementInvalid(f"{what}: must be a JSON object to be merged")
    return value


def save_document(
    workspace,
    scope,
    document_id,
    content,
    content_type,
    *,
    merge,
    preconditions,
    agent=None,
    precondition_required=False,
):
    """PUT (merge=False) or POST (merge=True) one document; returns the stored XapiDocument.

    precondition_required: a PUT to the profile resources must send If-Match or If-None-Match
    (Communication 3.1): without, 409 when the document exists, 400 when it does not.
    """
    content_type = content_type or "application/octet-stream"
    if merge and is_json(content_type):
        json_object(content, "content")
    for attempt in range(2):
        try:
            with transaction.atomic():
                stored = scope.filter(workspace).filter(document_id=document_id).select_for_update().first()
                preconditions.check(stored)
                if not merge and precondition_required and not preconditions.given:
                    if stored is not None:
                        raise DocumentConflict("The document exists: send If-Match with its ETag to replace it.")
                    raise StatementInvalid(
                        "If-Match / If-None-Match: a PUT of a profile names the version it replaces "
                        "(If-None-Match: * to create)"
                    )
                if stored is not None and merge:
                    content, content_type = _merged(stored, content, content_type)
                return _write(workspace, scope, document_id, stored, content, content_type, agent)
        except IntegrityError:
            # A concurrent request created it first: read it again and apply this write over it.
            if attempt:
                raise


def _merged(stored, content, content_type):
    if not (is_json(stored.content_type) and is_json(content_type)):
        raise StatementInvalid(
            "content: POST merges JSON objects only; the stored or sent document is not application/json"
        )
    merged = json_object(bytes(stored.content), "the stored document")
    merged.update(json_object(content, "content"))
    return json.dumps(merged).encode(), JSON_TYPE


def _write(workspace, scope, document_id, stored, content, content_type, agent):
    now = timezone.now()
    if stored is None:
        stored = XapiDocument(
            workspace=workspace,
            kind=scope.kind,
            activity_id=scope.activity_id,
            agent_key=scope.agent_key,
            registration=scope.registration,
            document_id=document_id,
            agent=agent,
        )
    stored.content, stored.content_type, stored.etag, stored.updated_at = content, content_type, etag_of(content), now
    stored.save()
    return stored


def delete_documents(workspace, scope, document_id=None, *, preconditions=Preconditions()):
    """Delete one document (document_id) or every document of the scope; returns how many."""
    with transaction.atomic():
        documents = scope.filter(workspace, many=document_id is None)
        if document_id is not None:
            documents = documents.filter(document_id=document_id)
            preconditions.check(documents.select_for_update().first())
        deleted, _ = documents.delete()
    return deleted
