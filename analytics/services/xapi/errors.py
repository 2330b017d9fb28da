"""What the xAPI resources refuse, and the version they speak."""

import re

XAPI_VERSION = "1.0.3"
ABOUT_VERSIONS = ("1.0.3", "1.0.2", "1.0.1", "1.0.0")  # what the About resource lists, newest first
SUPPORTED_VERSION = re.compile(r"^1\.0(\.\d+)?$")


class XapiError(Exception):
    """A request the statements resource refuses; status is the HTTP status to answer."""

    status = 400

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class StatementInvalid(XapiError):
    status = 400


class StatementConflict(XapiError):
    status = 409


def check_version_header(value):
    """Raise XapiError unless value is a supported X-Experience-API-Version (1.0.x)."""
    if not value:
        raise XapiError("The X-Experience-API-Version header is required (this LRS speaks 1.0.3).")
    if not SUPPORTED_VERSION.match(value.strip()):
        raise XapiError(f"X-Experience-API-Version {value!r} is not supported (use 1.0.0 to 1.0.3).")


class DocumentNotFound(XapiError):
    status = 404


class DocumentConflict(XapiError):
    """A PUT would overwrite a profile document without saying which version it expects."""

    status = 409


class PreconditionFailed(XapiError):
    status = 412
