"""The vocabulary of Analyse requests and answers: the states and enrollment types a row can
have, the filters and order a client sends, and a page of rows."""

from dataclasses import dataclass
from datetime import datetime

from courses.models import AttemptState, EnrollmentKind

NOT_ENROLLED = "NOT_ENROLLED"
RESULT_STATES = [state.value for state in AttemptState]  # NOT_STARTED ... EXPIRED, document order
ENROLLMENT_TYPES = [EnrollmentKind.MANDATORY.value, EnrollmentKind.OPTIONAL.value, NOT_ENROLLED]
CONTENT_TYPE_COURSE = "COURSE"
ORDER_FIELDS = ("updatedAt", "progress", "score", "userName", "contentName", "state")


@dataclass(frozen=True)
class DateRange:
    """`start` included, `end` excluded; either may be None (open end)."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class CustomFieldFilter:
    field_id: str  # CustomField.public_id
    values: tuple[str, ...]


@dataclass(frozen=True)
class ResultFilters:
    """The `filters` object of a request. Empty tuples and None mean "no filter".

    Ids are public ids: LearnerGroup.public_id, User.public_id, Course.key, CustomField.public_id.
    """

    group_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    content_ids: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    enrollment_types: tuple[str, ...] = ()
    custom_fields: tuple[CustomFieldFilter, ...] = ()
    updated_at: DateRange | None = None
    expiry: DateRange | None = None


@dataclass(frozen=True)
class ResultOrder:
    field: str = "updatedAt"  # one of ORDER_FIELDS
    descending: bool = True


@dataclass(frozen=True)
class Page:
    total: int
    rows: list
