"""JSON rendering with orjson, byte for byte what DRF's JSONRenderer writes.

DRF's renderer (json.dumps with its JSONEncoder, compact separators, UTF-8 unescaped under
UNICODE_JSON, NaN refused under STRICT_JSON, U+2028/U+2029 escaped) costs about 4 µs a row: 2 ms
of a 500-row 360Learning page, most of what the light endpoints spend after their SQL. orjson
writes the same bytes for what the APIs answer (dicts and lists of str, int, float, bool, None)
several times faster. Where the two could differ, DRF's own renderer answers:

- types orjson does not write as DRF does: dates, times, datetimes (DRF's `Z` and millisecond
  rules), Decimal, lazy strings, querysets... go through DRF's JSONEncoder.default, as with DRF;
- floats below 1e-4: Python writes `1e-05`, orjson `0.00001` or `1e-5` (the only float
  differences, checked over 400,000 random floats): such output is rendered again by DRF;
- anything orjson refuses (ints beyond 64 bits, keys that are not strings, lone surrogates), an
  `indent` asked for, or settings other than DRF's defaults (UNICODE_JSON, COMPACT_JSON,
  STRICT_JSON): DRF's renderer.

One difference is left: a NaN or infinite float, which DRF refuses with a 500, is written as
null (orjson cannot refuse it; no query answers one).
"""

import base64
import hashlib
import re

import orjson
from django.utils.html import escape
from rest_framework import renderers
from rest_framework.compat import pygments_css
from rest_framework.utils.encoders import JSONEncoder

# Where orjson's float may be written otherwise than Python's repr (see the module docstring).
FLOAT_MAY_DIFFER = re.compile(rb"0\.0000|e-[0-9](?![0-9])")
OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_default = JSONEncoder().default


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer, with orjson doing the work when the bytes are certain to be the same."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if not self._fast_path_applies(accepted_media_type, renderer_context):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            ret = orjson.dumps(data, default=_default, option=OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if FLOAT_MAY_DIFFER.search(ret):
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF: U+2028 and U+2029 are valid JSON but end a line in JavaScript.
        if b"\xe2\x80\xa8" in ret or b"\xe2\x80\xa9" in ret:
            ret = ret.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return ret

    def _fast_path_applies(self, accepted_media_type, renderer_context):
        if self.ensure_ascii or not self.compact or not self.strict or self.encoder_class is not JSONEncoder:
            return False
        return self.get_indent(accepted_media_type or "", renderer_context or {}) is None


# DRF's browsable API templates (rest_framework/base.html, admin.html, login_base.html and the
# filter forms) place a few fixed style attributes. Its pages alone allow exactly these values
# ('unsafe-hashes' with their SHA-256): any other style attribute, and every inline script, stays
# refused (docs/security.md).
BROWSABLE_API_STYLE_ATTRIBUTES = [
    "border-bottom: 0",
    "border-bottom: 1px solid #e5e5e5",
    "border: none",
    "clear: both",
    "float: right",
    "float: right; margin-right: 10px",
    "float:left",
    "margin-top: 30px",
    "margin: 0 0 20px;",
    "width: 320px; margin-left: auto; margin-right: auto",
    "width: 350px",
]


def csp_hash(text):
    """The CSP source expression allowing exactly `text`: 'sha256-<base64 of its SHA-256>'."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _code_style_hashes(code_style):
    """The hash of the <style> DRF writes for Pygments (none without Pygments). The page writes it
    escaped: Pygments' CSS holds nothing escape() changes, but what is sent is what is hashed."""
    css = pygments_css(code_style)
    return [csp_hash(escape(css))] if css else []


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, whose pages allow under the CSP their own fixed style attributes and
    the <style> of Pygments' code colours (when Pygments is installed), by hash."""

    style_attribute_hashes = [csp_hash(value) for value in BROWSABLE_API_STYLE_ATTRIBUTES]
    style_element_hashes = _code_style_hashes(renderers.BrowsableAPIRenderer.code_style)

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            # Read by django-csp's middleware: added to the site policy for this response only.
            update = dict(getattr(response, "_csp_update", None) or {})
            update["style-src-attr"] = [*update.get("style-src-attr", []), *self.style_attribute_hashes]
            if self.style_element_hashes:
                update["style-src"] = [*update.get("style-src", []), *self.style_element_hashes]
            response._csp_update = update
        return super().render(data, accepted_media_type, renderer_context)
