"""multipart/mixed bodies of the statements resource (xAPI Communication 1.5.2): statements with
their attachments' bytes, in requests (a DRF parser) and in responses (attachments=true).

The first part is the statements' JSON (application/json); each further part is one attachment's
bytes, with `X-Experience-API-Hash` (its sha2), `Content-Type` and
`Content-Transfer-Encoding: binary`. Bytes are kept exactly: only the CRLF that belongs to each
delimiter is removed.
"""

import json
import re
import uuid
from dataclasses import dataclass, field

from rest_framework.parsers import BaseParser

from config.limits import json_problem, problem_message
from analytics.services.xapi.errors import StatementInvalid

CRLF = b"\r\n"
MAX_CONTENT_TYPE_LENGTH = 255  # XapiAttachment.content_type
BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


@dataclass
class Part:
    headers: dict  # lower-case name -> value
    body: bytes


@dataclass
class StatementsWithAttachments:
    """A multipart request's statement(s) and its attachment parts by their hash."""

    statements: object
    parts: dict = field(default_factory=dict)  # sha2 -> Part


def _boundary(content_type):
    found = BOUNDARY.search(content_type or "")
    if not found:
        raise StatementInvalid("Content-Type: multipart/mixed needs a boundary parameter")
    return (found.group(1) or found.group(2)).encode("latin-1")


def _headers(block, index):
    headers = {}
    for line in block.split(CRLF):
        if not line.strip():
            continue
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise StatementInvalid(f"part {index}: header line {line[:60]!r} has no colon")
        headers[name.strip().lower()] = value.strip()
    return headers


def split_parts(body, content_type):
    """The parts of a multipart body, in order. StatementInvalid when it is not well formed."""
    boundary = _boundary(content_type)
    delimiter = b"--" + boundary
    if not body.startswith(delimiter) and (CRLF + delimiter) not in body:
        raise StatementInvalid("body: no part starts with the boundary of the Content-Type")
    # Normalise so that every delimiter is preceded by CRLF, then split on CRLF--boundary.
    chunks = (CRLF + body).split(CRLF + delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise StatementInvalid("body: the multipart body does not end with the closing boundary")
    parts = []
    for index, chunk in enumerate(chunks[1:-1]):
        head, separator, content = chunk.partition(CRLF + CRLF)
        if not separator:
            raise StatementInvalid(f"part {index}: no blank line between its headers and its content")
        # The rest of the delimiter line (transport padding) ends at the first CRLF of head.
        parts.append(Part(headers=_headers(head, index), body=content))
    return parts


def parse_statements_request(body, content_type):
    """StatementsWithAttachments of a multipart/mixed statements request."""
    parts = split_parts(body, content_type)
    first = parts[0]
    if first.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise StatementInvalid("part 0: the first part holds the statements, as application/json")
    try:
        statements = json.loads(first.body)
    except (ValueError, UnicodeDecodeError):
        raise StatementInvalid("part 0: the statements are not valid JSON") from None
    problem = json_problem(statements)
    if problem:
        raise StatementInvalid(f"part 0: {problem_message(problem)}")
    attachments = {}
    for index, part in enumerate(parts[1:], start=1):
        sha2 = part.headers.get("x-experience-api-hash")
        if not sha2:
            raise StatementInvalid(f"part {index}: X-Experience-API-Hash is required on every attachment part")
        if part.headers.get("content-transfer-encoding", "").lower() != "binary":
            raise StatementInvalid(f"part {index}: Content-Transfer-Encoding must be binary")
        if not 0 < len(part.headers.get("content-type", "")) <= MAX_CONTENT_TYPE_LENGTH:
            raise StatementInvalid(
                f"part {index}: Content-Type is required (at most {MAX_CONTENT_TYPE_LENGTH} characters)"
            )
        attachments[sha2.lower()] = part
    return StatementsWithAttachments(statements=statements, parts=attachments)


class MultipartMixedParser(BaseParser):
    media_type = "multipart/mixed"

    def parse(self, stream, media_type=None, parser_context=None):
        return parse_statements_request(stream.read() if stream else b"", media_type)


def render_statements_response(document, attachments):
    """(body, content type) of a multipart/mixed response: document (JSON-able) first, then
    each (sha2, content type, bytes) of attachments."""
    boundary = f"xapi-{uuid.uuid4().hex}"
    delimiter = f"--{boundary}".encode()
    chunks = [delimiter, CRLF, b"Content-Type: application/json", CRLF, CRLF, json.dumps(document).encode(), CRLF]
    for sha2, content_type, content in attachments:
        chunks += [
            delimiter,
            CRLF,
            f"Content-Type: {content_type}".encode(),
            CRLF,
            b"Content-Transfer-Encoding: binary",
            CRLF,
            f"X-Experience-API-Hash: {sha2}".encode(),
            CRLF,
            CRLF,
            content,
            CRLF,
        ]
    chunks += [delimiter, b"--", CRLF]
    return b"".join(chunks), f'multipart/mixed; boundary="{boundary}"'
