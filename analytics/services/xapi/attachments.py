"""Statement attachments (xAPI Data 2.4.11, Communication 1.5): the parts of a multipart request
checked against the statements' attachment metadata, their bytes kept in Django's storage (beside
the export files) as XapiAttachment rows, and read back for GET ...&attachments=true.

Every attachment without a fileUrl must come as a part whose hash is its sha2; every part must be
named by an attachment; a part's bytes must hash to its sha2. A signature attachment is checked as
a JWS of its statement (analytics.services.xapi.signatures).
"""

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from analytics.models import XapiAttachment
from analytics.services.xapi.errors import StatementInvalid
from analytics.services.xapi.signatures import SIGNATURE_TYPE, SIGNATURE_USAGE, check_signature

HASHES = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}


def _attachments_of(statement):
    found = statement.get("attachments") or []
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        found = found + (obj.get("attachments") or [])
    return found


def check_parts(statements, paths, parts):
    """Raise StatementInvalid unless the parts ({sha2: Part}) and the statements' attachments
    match one to one (fileUrl-only attachments need no part), each part hashes to its sha2, and
    each signature is a JWS of its statement."""
    named = set()
    for statement, path in zip(statements, paths):
        for index, attachment in enumerate(_attachments_of(statement)):
            sha2 = attachment["sha2"].lower()
            named.add(sha2)
            part = parts.get(sha2)
            if part is None:
                if "fileUrl" not in attachment:
                    raise StatementInvalid(
                        f"{path}.attachments[{index}]: no part with X-Experience-API-Hash {sha2} and no fileUrl "
                        "(send its bytes in a multipart/mixed request)"
                    )
                continue
            if attachment["usageType"] == SIGNATURE_USAGE:
                if attachment["contentType"].split(";")[0].strip().lower() != SIGNATURE_TYPE:
                    raise StatementInvalid(f"{path}.attachments[{index}].contentType: a signature is {SIGNATURE_TYPE}")
                check_signature(statement, part.body, f"{path}.attachments[{index}]")
    for sha2, part in parts.items():
        if sha2 not in named:
            raise StatementInvalid(
                f"part with X-Experience-API-Hash {sha2}: no attachment of the statements has this sha2"
            )
        digest = HASHES.get(len(sha2))
        if digest is None or digest(part.body).hexdigest() != sha2:
            raise StatementInvalid(f"part with X-Experience-API-Hash {sha2}: its content does not have this SHA-2 hash")


def store_parts(workspace, parts):
    """Save the parts not yet stored in the workspace; returns the file names written (for the
    caller to remove if its transaction fails)."""
    if not parts:
        return []
    known = set(XapiAttachment.objects.filter(workspace=workspace, sha2__in=list(parts)).values_list("sha2", flat=True))
    written, rows = [], []
    try:
        for sha2, part in parts.items():
            if sha2 in known:
                continue
            name = default_storage.save(f"xapi-attachments/{workspace.pk}/{sha2}", ContentFile(part.body))
            written.append(name)
            rows.append(
                XapiAttachment(
                    workspace=workspace,
                    sha2=sha2,
                    content_type=part.headers["content-type"],
                    length=len(part.body),
                    file=name,
                )
            )
        XapiAttachment.objects.bulk_create(rows, ignore_conflicts=True)
    except BaseException:
        remove_files(written)
        raise
    return written


def remove_files(names):
    for name in names:
        default_storage.delete(name)


def attachment_contents(workspace, statements):
    """[(sha2, content type, bytes)] of the attachments of statements that the workspace holds,
    each sha2 once, in the order the statements name them."""
    wanted = []
    for statement in statements:
        for attachment in _attachments_of(statement):
            sha2 = str(attachment.get("sha2", "")).lower()
            if sha2 and sha2 not in wanted:
                wanted.append(sha2)
    rows = {row.sha2: row for row in XapiAttachment.objects.filter(workspace=workspace, sha2__in=wanted)}
    contents = []
    for sha2 in wanted:
        row = rows.get(sha2)
        if row is not None:
            with default_storage.open(row.file.name, "rb") as handle:
                contents.append((sha2, row.content_type, handle.read()))
    return contents
