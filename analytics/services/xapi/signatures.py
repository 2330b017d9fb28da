"""Signed statements (xAPI Data 2.6): a statement may carry a JWS (RFC 7515, compact form) of
itself as an attachment with the signature usageType. The LRS checks that it is a JWS with an
RS256 / RS384 / RS512 header, that its payload is the statement as sent (without its
attachments), and, when the header names a certificate (`x5c`), that the signature verifies with
that certificate's public key. It does not judge whom to trust: that is the reader's concern."""

import base64
import binascii
import json

import jwt
from cryptography import x509

from analytics.services.xapi.comparison import statements_match
from analytics.services.xapi.errors import StatementInvalid

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
SIGNATURE_TYPE = "application/octet-stream"
ALGORITHMS = ("RS256", "RS384", "RS512")


def _b64(segment, what, path):
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise StatementInvalid(f"{path}: the JWS {what} is not base64url") from None


def _json(raw, what, path):
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise StatementInvalid(f"{path}: the JWS {what} is not valid JSON") from None


def check_signature(statement, token, path):
    """Raise StatementInvalid (naming path, the signature attachment) unless token (bytes) is a
    valid signature of statement."""
    try:
        text = token.decode("ascii").strip()
    except UnicodeDecodeError:
        raise StatementInvalid(f"{path}: the signature is not a JWS in compact form") from None
    segments = text.split(".")
    if len(segments) != 3:
        raise StatementInvalid(f"{path}: the signature is not a JWS in compact form (three dot-separated parts)")
    header = _json(_b64(segments[0], "header", path), "header", path)
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
        raise StatementInvalid(f"{path}: the JWS algorithm must be one of {', '.join(ALGORITHMS)}")
    payload = _json(_b64(segments[1], "payload", path), "payload", path)
    signed = {key: value for key, value in statement.items() if key != "attachments"}
    if not isinstance(payload, dict) or not statements_match(payload, signed):
        raise StatementInvalid(f"{path}: the JWS payload is not this statement")
    if "x5c" in header:
        _verify_with_certificate(text, header, path)


def _verify_with_certificate(token, header, path):
    chain = header["x5c"]
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise StatementInvalid(f"{path}: x5c must be a list of base64 certificates")
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
    except (ValueError, binascii.Error):
        raise StatementInvalid(f"{path}: the x5c certificate cannot be read") from None
    try:
        jwt.api_jws.PyJWS().decode_complete(token, certificate.public_key(), algorithms=list(ALGORITHMS))
    except jwt.InvalidTokenError:
        raise StatementInvalid(f"{path}: the JWS signature does not verify with its x5c certificate") from None
