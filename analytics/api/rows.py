"""Fast output of query results through a serializer's declared fields, for the families whose
answers are long row lists (Open edX course information, 360Learning) or nested documents read
often (SkillRise learner analytics, VideoCloud).

`CompiledRows(serializer_class).many(rows)` gives what `serializer_class(rows, many=True).data`
gives, and `.one(item)` what `serializer_class(item).data` gives, from a plan compiled once per
serializer class instead of DRF's per-field machinery (about 0.1 ms a row, and a deep copy of every
field per serializer instance: most of a request answering 500 rows, or a nested document). The
serializer stays the one description of the output (names, `source` keys, formats, the OpenAPI
schema); the plan only reads it:

- CharField: the value as the query typed it (strings already);
- IntegerField, FloatField: int(value), float(value), as DRF;
- DateTimeField (its format, in its time zone) and DateField (its format, or ISO 8601): formatted,
  each distinct value once;
- any field with a `row_converter` (a function of the value), e.g. 360Learning's IsoMsZField:
  that function, each distinct value once;
- a nested serializer: its own plan (None stays None; a hashable value met again written once);
  with many=True, a list of those;
- DictField: {str(key): the child's output}; ListField: [the child's output], as DRF.

A key (or attribute) the item does not have is handled as DRF does: the field's default, else null
when it allows null, else left out when it is not required, else a KeyError. Any other field is a
TypeError: the plan must never silently differ from DRF's output.

omit_none=True leaves out the fields whose value is None (360Learning omits absent optional fields,
its schemas do not allow null); by default they are kept as null (Open edX).
"""

from functools import lru_cache

from rest_framework import ISO_8601, serializers
from rest_framework.fields import empty

_MISSING = object()
_SKIP = object()


@lru_cache(maxsize=None)
def _plan(serializer_class, omit_none):
    """[(name, source, converter factory or None, value when missing)] of the serializer class's
    declared fields, built once per class: instantiating a serializer deep-copies its fields (a
    good part of a small request). A factory makes the field's converter afresh for each
    CompiledRows, so that memos never outlive one answer."""
    return [
        (
            name,
            CompiledRows._source(name, field),
            CompiledRows._converter_factory(field, omit_none),
            CompiledRows._when_missing(field),
        )
        for name, field in serializer_class().fields.items()
    ]


class CompiledRows:
    def __init__(self, serializer_class, *, omit_none=False):
        self.omit_none = omit_none
        self.plan = [
            (name, source, None if factory is None else factory(), missing)
            for name, source, factory, missing in _plan(serializer_class, omit_none)
        ]

    @staticmethod
    def _source(name, field):
        if field.source == "*" or "." in field.source:
            raise TypeError(f"CompiledRows reads one key per field; {name} has source {field.source!r}")
        return field.source

    @staticmethod
    def _when_missing(field):
        """What DRF's Field.get_attribute answers for a key the item lacks: the default, None,
        _SKIP (left out) or _MISSING (an error)."""
        if field.default is not empty:
            if callable(field.default):
                raise TypeError(f"CompiledRows does not support a callable default ({field.field_name})")
            return field.default
        if field.allow_null:
            return None
        if not field.required:
            return _SKIP
        return _MISSING

    @classmethod
    def _converter_factory(cls, field, omit_none):
        convert = getattr(field, "row_converter", None)
        if convert is not None:
            return lambda: cls._memoized(convert)
        if isinstance(field, serializers.DateTimeField):
            fmt, zone = field.format, getattr(field, "timezone", None) or field.default_timezone()
            if fmt is None or fmt is empty or fmt.lower() == ISO_8601:
                raise TypeError("CompiledRows writes DateTimeFields with an explicit strftime format only")
            return lambda: cls._memoized(lambda value: value.astimezone(zone).strftime(fmt))
        if isinstance(field, serializers.DateField):
            fmt = getattr(field, "format", empty)
            if fmt is empty:
                fmt = serializers.api_settings.DATE_FORMAT
            if fmt is None:
                return None
            if fmt.lower() == ISO_8601:
                return lambda: cls._memoized(lambda value: value if isinstance(value, str) else value.isoformat())
            return lambda: cls._memoized(lambda value: value if isinstance(value, str) else value.strftime(fmt))
        if isinstance(field, serializers.ListSerializer):
            child_class = type(field.child)
            _plan(child_class, omit_none)  # unsupported nested fields fail here, at compile time

            def list_converter():
                nested = cls(child_class, omit_none=omit_none)
                return nested.many

            return list_converter
        if isinstance(field, serializers.Serializer):
            nested_class = type(field)
            _plan(nested_class, omit_none)

            def nested_converter():
                # A value met again (Open edX's countries: one per row of each day) is written
                # once; unhashable values (dicts) each time.
                one, memo = cls(nested_class, omit_none=omit_none).one, {}

                def converted(value):
                    try:
                        return memo[value]
                    except KeyError:
                        memo[value] = output = one(value)
                        return output
                    except TypeError:
                        return one(value)

                return converted

            return nested_converter
        if isinstance(field, serializers.DictField):
            child = cls._converter_factory(field.child, omit_none)

            def dict_converter():
                convert = (lambda item: item) if child is None else child()
                return lambda value: {str(key): None if val is None else convert(val) for key, val in value.items()}

            return dict_converter
        if isinstance(field, serializers.ListField):
            child = cls._converter_factory(field.child, omit_none)

            def list_field_converter():
                convert = (lambda item: item) if child is None else child()
                return lambda value: [None if item is None else convert(item) for item in value]

            return list_field_converter
        if isinstance(field, serializers.FloatField):
            return lambda: float
        if isinstance(field, serializers.IntegerField):
            return lambda: int  # as DRF: a SUM that PostgreSQL types numeric arrives as a Decimal
        if isinstance(field, serializers.CharField):
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
        """The output of one item (a dict, or an object whose attributes are the sources)."""
        get = item.get if isinstance(item, dict) else (lambda source, default: getattr(item, source, default))
        data = {}
        for name, source, convert, missing in self.plan:
            value = get(source, _MISSING)
            if value is _MISSING:
                if missing is _SKIP:
                    continue
                if missing is _MISSING:
                    raise KeyError(f"{source!r}: the item has no value for field {name!r}")
                value = missing
            if value is None:
                if not self.omit_none:
                    data[name] = None
                continue
            data[name] = value if convert is None else convert(value)
        return data

    def many(self, items):
        return [self.one(item) for item in items]
