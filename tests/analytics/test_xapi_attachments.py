"""Statement attachments (multipart/mixed in and out, fileUrl, SHA-2 checks) and signed
statements (JWS RS256/384/512, x5c) of the xAPI statements resource."""

import base64
import datetime
import hashlib
import json
import uuid

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.core.files.storage import default_storage

from accounts.models import Role
from analytics.models import XapiAttachment, XapiStatement
from tests.analytics.test_xapi import statement

pytestmark = pytest.mark.django_db

VERSION = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}
BOUNDARY = "-------314159265358979323846"
SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def xapi(workspace, api_key_client):
    return api_key_client(workspace, Role.ADMIN)


def metadata(content, content_type="text/plain", usage="http://example.com/attachment-usage/test", **extra):
    return {
        "usageType": usage,
        "display": {"en-US": "An attachment"},
        "contentType": content_type,
        "length": len(content),
        "sha2": hashlib.sha256(content).hexdigest(),
        **extra,
    }


def multipart(statements, parts, boundary=BOUNDARY, first_type="application/json"):
    """parts: [(content, headers dict)]."""
    chunks = [f"--{boundary}\r\nContent-Type: {first_type}\r\n\r\n".encode(), json.dumps(statements).encode()]
    for content, headers in parts:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        chunks += [f"\r\n--{boundary}\r\n{head}\r\n".encode(), content]
    chunks.append(f"\r\n--{boundary}--".encode())
    return b"".join(chunks)


def part_headers(content, content_type="text/plain", **overrides):
    headers = {
        "Content-Type": content_type,
        "Content-Transfer-Encoding": "binary",
        "X-Experience-API-Hash": hashlib.sha256(content).hexdigest(),
    }
    headers.update(overrides)
    return {name: value for name, value in headers.items() if value is not None}


def send(client, body, boundary=BOUNDARY, method="POST", path="/xapi/statements"):
    return client.generic(method, path, body, content_type=f"multipart/mixed; boundary={boundary}", **VERSION)


def parse_multipart(response):
    boundary = response["Content-Type"].split("boundary=")[1].strip('"').encode()
    parts = []
    for chunk in response.content.split(b"--" + boundary)[1:-1]:
        head, _, body = chunk[len(b"\r\n") :].partition(b"\r\n\r\n")  # the CRLF after the delimiter
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        parts.append((headers, body[: -len(b"\r\n")]))  # the CRLF before the next delimiter
    return parts


def test_attachments_come_back_byte_exact_in_a_multipart_response(xapi):
    text, image = b"line one\r\nline two\n", bytes(range(256)) * 3
    linked = metadata(b"elsewhere", fileUrl="http://files.example/elsewhere.txt")
    body = statement(attachments=[metadata(text), metadata(image, "image/png"), linked])
    response = send(xapi, multipart([body], [(text, part_headers(text)), (image, part_headers(image, "image/png"))]))
    assert response.status_code == 200, response.content
    assert response.json() == [body["id"]]
    assert sorted(XapiAttachment.objects.values_list("content_type", "length")) == [
        ("image/png", 768),
        ("text/plain", len(text)),
    ]

    got = xapi.get("/xapi/statements", {"statementId": body["id"], "attachments": "true"}, **VERSION)
    assert got["Content-Type"].startswith("multipart/mixed")
    parts = parse_multipart(got)
    assert json.loads(parts[0][1])["id"] == body["id"]
    assert [(headers["X-Experience-API-Hash"], content) for headers, content in parts[1:]] == [
        (hashlib.sha256(text).hexdigest(), text),
        (hashlib.sha256(image).hexdigest(), image),
    ]
    listed = parse_multipart(xapi.get("/xapi/statements", {"attachments": "true"}, **VERSION))
    assert [content for _, content in listed[1:]] == [text, image]
    plain = xapi.get("/xapi/statements", {"statementId": body["id"]}, **VERSION)
    assert plain["Content-Type"] == "application/json"


def test_a_fileurl_only_attachment_needs_no_part(xapi):
    body = statement(attachments=[metadata(b"x", fileUrl="http://files.example/x.txt")])
    response = xapi.post("/xapi/statements", body, format="json", **VERSION)
    assert response.status_code == 200
    assert XapiAttachment.objects.count() == 0


@pytest.mark.parametrize(
    ("case", "named"),
    [
        ("json without the part", "statements[0].attachments[0]: no part"),
        ("missing part", "statements[0].attachments[0]: no part"),
        ("wrong bytes", "part with X-Experience-API-Hash"),
        ("extra part", "part with X-Experience-API-Hash"),
        ("no hash header", "part 1: X-Experience-API-Hash"),
        ("not binary", "part 1: Content-Transfer-Encoding"),
        ("first part not json", "part 0:"),
        ("no boundary", "Content-Type: multipart/mixed needs a boundary"),
    ],
)
def test_bad_multipart_requests_are_400_and_store_nothing(xapi, media, case, named):
    content = b"attached bytes"
    body = [statement(attachments=[metadata(content)])]
    parts = [(content, part_headers(content))]
    if case == "json without the part":
        response = xapi.post("/xapi/statements", body, format="json", **VERSION)
    elif case == "no boundary":
        response = xapi.generic(
            "POST", "/xapi/statements", multipart(body, parts), content_type="multipart/mixed", **VERSION
        )
    else:
        if case == "missing part":
            parts = []
        elif case == "wrong bytes":
            parts = [(b"other bytes", part_headers(content))]
        elif case == "extra part":
            parts.append((b"unnamed", part_headers(b"unnamed")))
        elif case == "no hash header":
            parts = [(content, part_headers(content, **{"X-Experience-API-Hash": None}))]
        elif case == "not binary":
            parts = [(content, part_headers(content, **{"Content-Transfer-Encoding": None}))]
        response = send(
            xapi,
            multipart(body, parts, first_type="text/plain" if case == "first part not json" else "application/json"),
        )
    assert response.status_code == 400, response.content
    assert named in response.json()["detail"]
    assert XapiStatement.objects.count() == 0
    assert XapiAttachment.objects.count() == 0
    assert [path for path in media.rglob("*") if path.is_file()] == []


def test_a_failed_batch_leaves_no_attachment_file(xapi, media):
    content = b"kept only with its statement"
    good = statement(attachments=[metadata(content)])
    send(xapi, multipart([good], [(content, part_headers(content))]))
    (stored,) = [p for p in media.rglob("*") if p.is_file()]
    other = b"a second file"
    conflicting = dict(good, verb={"id": "http://adlnet.gov/expapi/verbs/failed"}, attachments=[metadata(other)])
    response = send(
        xapi,
        multipart([statement(attachments=[]) | {"id": str(uuid.uuid4())}, conflicting], [(other, part_headers(other))]),
    )
    assert response.status_code == 409
    assert [p for p in media.rglob("*") if p.is_file()] == [stored]
    assert XapiAttachment.objects.count() == 1


# --- Signed statements ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xAPI test signer")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    x5c = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    return pem, x5c


def signed_request(body, token):
    signature = token.encode()
    body = dict(body, attachments=[metadata(signature, "application/octet-stream", usage=SIGNATURE)])
    return body, multipart([body], [(signature, part_headers(signature, "application/octet-stream"))])


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_a_signed_statement_is_accepted_and_its_signature_stored(xapi, signer, algorithm):
    pem, x5c = signer
    body = statement()
    token = jwt.encode(body, pem, algorithm=algorithm, headers={"x5c": [x5c]})
    body, request = signed_request(body, token)
    response = send(xapi, request)
    assert response.status_code == 200, response.content
    (row,) = XapiAttachment.objects.all()
    assert default_storage.open(row.file.name).read() == token.encode()


def test_a_signature_of_other_content_is_400(xapi, signer):
    pem, x5c = signer
    body = statement()
    token = jwt.encode(dict(body, verb={"id": "http://adlnet.gov/expapi/verbs/failed"}), pem, algorithm="RS256")
    _, request = signed_request(body, token)
    response = send(xapi, request)
    assert response.status_code == 400
    assert response.json()["detail"] == "statements[0].attachments[0]: the JWS payload is not this statement"


def test_a_signature_that_does_not_verify_with_its_certificate_is_400(xapi, signer):
    pem, x5c = signer
    other_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    body = statement()
    _, request = signed_request(body, jwt.encode(body, other_pem, algorithm="RS256", headers={"x5c": [x5c]}))
    response = send(xapi, request)
    assert response.status_code == 400
    assert response.json()["detail"].endswith("the JWS signature does not verify with its x5c certificate")


def test_another_algorithm_is_400(xapi):
    body = statement()
    _, request = signed_request(body, jwt.encode(body, "a shared secret of thirty-two bytes!", algorithm="HS256"))
    response = send(xapi, request)
    assert response.status_code == 400
    assert response.json()["detail"].endswith("the JWS algorithm must be one of RS256, RS384, RS512")
    assert XapiStatement.objects.count() == 0


def test_attachments_of_one_workspace_never_reach_another(xapi, workspace, other_workspace, api_key_client):
    content = b"alpha's private bytes"
    body = statement(attachments=[metadata(content)])
    assert send(xapi, multipart([body], [(content, part_headers(content))])).status_code == 200
    other = api_key_client(other_workspace, Role.ADMIN)
    # The same statement (same sha2) in the other workspace, sent without its bytes: refused.
    assert other.post("/xapi/statements", body, format="json", **VERSION).status_code == 400
    linked = dict(body, attachments=[dict(body["attachments"][0], fileUrl="http://files.example/a")])
    assert other.post("/xapi/statements", linked, format="json", **VERSION).status_code == 200
    parts = parse_multipart(other.get("/xapi/statements", {"attachments": "true"}, **VERSION))
    assert len(parts) == 1  # the StatementResult alone: workspace A's bytes are not served
    assert content not in b"".join(part for _, part in parts)


def test_a_page_with_attachments_is_a_fixed_number_of_queries(xapi, django_assert_max_num_queries):
    contents = [f"attachment {n}".encode() for n in range(6)]
    statements = [statement(attachments=[metadata(contents[2 * n]), metadata(contents[2 * n + 1])]) for n in range(3)]
    parts = [(content, part_headers(content)) for content in contents]
    assert send(xapi, multipart(statements, parts)).status_code == 200
    with django_assert_max_num_queries(3):  # the credential, the page, the attachments
        response = xapi.get("/xapi/statements", {"attachments": "true"}, **VERSION)
    assert sorted(content for _, content in parse_multipart(response)[1:]) == sorted(contents)
