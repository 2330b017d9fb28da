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

import re

import orjson
from rest_framework import renderers
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
