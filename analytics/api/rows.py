"""Fast output of query rows through a serializer's declared fields, for the families that answer
hundreds of rows a request (Open edX course information, 360Learning).

`CompiledRows(serializer_class).many(rows)` gives what `serializer_class(rows, many=True).data`
gives, from a plan compiled once per use instead of DRF's per-field machinery (about 0.1 ms a
row: most of a request answering 500 rows). The serializer stays the one description of the output
(names, `source` keys, formats, the OpenAPI schema); the plan only reads it:

- CharField, IntegerField: the value as the query typed it (ints and strings already);
- DateTimeField (its format, in its time zone) and DateField (its format): formatted, each
  distinct value once;
- any field with a `row_converter` (a function of the value), e.g. 360Learning's IsoMsZField:
  that function, each distinct value once;
- a nested serializer: its own plan (None stays None).

Any other field is a TypeError: the plan must never silently differ from DRF's output.

omit_none=True leaves out the fields whose value is None (360Learning omits absent optional fields,
its schemas do not allow null); by default they are kept as null (Open edX).
"""

from rest_framework import serializers


class CompiledRows:
    def __init__(self, serializer_class, *, omit_none=False):
        self.omit_none = omit_none
        self.plan = [
            (name, self._source(name, field), self._converter(field, omit_none))
            for name, field in serializer_class().fields.items()
        ]

    @staticmethod
    def _source(name, field):
        if field.source == "*" or "." in field.source:
            raise TypeError(f"CompiledRows reads one key per field; {name} has source {field.source!r}")
        return field.source

    @classmethod
    def _converter(cls, field, omit_none):
        convert = getattr(field, "row_converter", None)
        if convert is not None:
            return cls._memoized(convert)
        if isinstance(field, serializers.DateTimeField):
            fmt, zone = field.format, getattr(field, "timezone", None) or field.default_timezone()
            return cls._memoized(lambda value: value.astimezone(zone).strftime(fmt))
        if isinstance(field, serializers.DateField):
            fmt = field.format
            return cls._memoized(lambda value: value.strftime(fmt))
        if isinstance(field, serializers.Serializer):
            nested = cls(type(field), omit_none=omit_none)
            return lambda value: None if value is None else nested.one(value)
        if isinstance(field, (serializers.IntegerField, serializers.CharField)):
            return None
        raise TypeError(f"CompiledRows does not support {type(field).__name__}")

    @staticmethod
    def _memoized(convert):
        memo = {}

        def converted(value):
            if value is None:
                return None
            if value not in memo:
                memo[value] = convert(value)
            return memo[value]

        return converted

    def one(self, item):
        """The output of one row (a dict, or an object whose attributes are the sources)."""
        if not isinstance(item, dict):
            item = {source: getattr(item, source) for _, source, _ in self.plan}
        data = {}
        for name, source, convert in self.plan:
            value = item[source]
            if value is None:
                if not self.omit_none:
                    data[name] = None
                continue
            data[name] = value if convert is None else convert(value)
        return data

    def many(self, items):
        return [self.one(item) for item in items]
