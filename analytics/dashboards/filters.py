"""The dashboards' GET parameters, parsed and validated with Django forms.

Filters live in the URL so that a filtered page can be shared. A bad value answers 400 with the
parameter named (views render forms' errors), never a silently widened page.
"""

from datetime import datetime, time, timedelta

from django import forms

from analytics.definitions import UTC
from analytics.queries.analyse import (
    ENROLLMENT_TYPES,
    NOT_ENROLLED,
    RESULT_STATES,
    CustomFieldFilter,
    DateRange,
    ResultFilters,
    ResultOrder,
)
from courses.models import AttemptState, EnrollmentKind

PERIODS = [("7d", "Last 7 days"), ("30d", "Last 30 days"), ("90d", "Last 90 days"), ("all", "All time")]
DEFAULT_PERIOD = "30d"
STATE_LABELS = dict(AttemptState.choices)
ENROLLMENT_TYPE_LABELS = {**dict(EnrollmentKind.choices), NOT_ENROLLED: "Not enrolled"}
PAGE_SIZES = [25, 50, 100]
ATTRIBUTE_SEPARATOR = ":"
# Learner table columns a person may sort by -> the Analyse order field.
SORTS = {
    "updated": "updatedAt",
    "progress": "progress",
    "score": "score",
    "name": "userName",
    "course": "contentName",
    "state": "state",
}


def attribute_choices(custom_fields):
    """Choices `<field public id>:<value>` grouped by field, from analyse_custom_fields rows."""
    return [
        (field["name"], [(f"{field['public_id']}{ATTRIBUTE_SEPARATOR}{value}", value) for value in field["values"]])
        for field in custom_fields
        if field["values"]
    ]


def _custom_field_filters(values):
    """CustomFieldFilters from `<field id>:<value>` strings: values of one field are OR'ed."""
    by_field = {}
    for item in values:
        field_id, _, value = item.partition(ATTRIBUTE_SEPARATOR)
        by_field.setdefault(field_id, []).append(value)
    return tuple(CustomFieldFilter(field_id, tuple(values)) for field_id, values in by_field.items())


class PeriodForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False)

    def __init__(self, data, *args, **kwargs):
        # Without a period in the URL the default one is both used and shown as selected.
        if not data.get("period"):
            data = data.copy()
            data["period"] = DEFAULT_PERIOD
        super().__init__(data, *args, **kwargs)

    def clean_period(self):
        return self.cleaned_data.get("period") or DEFAULT_PERIOD


class WorkspaceFilterForm(PeriodForm):
    """The workspace overview's filter bar: period, group, custom attribute."""

    group = forms.ChoiceField(required=False, label="Group")
    attribute = forms.ChoiceField(required=False, label="Attribute")

    def __init__(self, data, *, groups, custom_fields):
        super().__init__(data)
        self.fields["group"].choices = [("", "All groups")] + [(row["public_id"], row["name"]) for row in groups]
        self.fields["attribute"].choices = [("", "Any attribute")] + attribute_choices(custom_fields)

    def result_filters(self):
        """The learner scope as the Analyse API's filters."""
        data = self.cleaned_data
        return ResultFilters(
            group_ids=(data["group"],) if data.get("group") else (),
            custom_fields=_custom_field_filters([data["attribute"]]) if data.get("attribute") else (),
        )


class CourseForm(PeriodForm):
    """The course page: period of the charts, the learner table's search / sort / page, the video
    whose timeline is drawn, the problem whose answer and grade distributions are drawn."""

    q = forms.CharField(required=False, max_length=100, label="Search learners")
    sort = forms.ChoiceField(choices=[(name, name) for name in SORTS], required=False)
    dir = forms.ChoiceField(choices=[("asc", "asc"), ("desc", "desc")], required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    video = forms.CharField(required=False, max_length=255)
    problem = forms.CharField(required=False, max_length=500)

    def order(self):
        data = self.cleaned_data
        return ResultOrder(field=SORTS[data.get("sort") or "updated"], descending=(data.get("dir") or "desc") == "desc")


def _day_start(day):
    return datetime.combine(day, time.min, UTC)


class ResultsForm(forms.Form):
    """The Analyse view: the filters of POST /analyse/results, as GET parameters."""

    group = forms.MultipleChoiceField(required=False, label="Groups")
    content = forms.MultipleChoiceField(required=False, label="Courses")
    state = forms.MultipleChoiceField(
        required=False,
        choices=[(state, STATE_LABELS[state]) for state in RESULT_STATES],
        label="States",
        widget=forms.CheckboxSelectMultiple,
    )
    type = forms.MultipleChoiceField(
        required=False,
        choices=[(kind, ENROLLMENT_TYPE_LABELS[kind]) for kind in ENROLLMENT_TYPES],
        label="Enrollment types",
        widget=forms.CheckboxSelectMultiple,
    )
    attribute = forms.MultipleChoiceField(required=False, label="Attributes")
    user = forms.CharField(required=False, max_length=24, label="Learner id")
    updated_from = forms.DateField(required=False, label="Updated from", widget=forms.DateInput(attrs={"type": "date"}))
    updated_to = forms.DateField(required=False, label="Updated to", widget=forms.DateInput(attrs={"type": "date"}))
    expiry_from = forms.DateField(required=False, label="Due from", widget=forms.DateInput(attrs={"type": "date"}))
    expiry_to = forms.DateField(required=False, label="Due to", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(choices=[(name, name) for name in SORTS], required=False)
    dir = forms.ChoiceField(choices=[("asc", "asc"), ("desc", "desc")], required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    per_page = forms.TypedChoiceField(
        required=False, coerce=int, choices=[(size, size) for size in PAGE_SIZES], label="Rows per page"
    )

    def __init__(self, data, *, groups, contents, custom_fields):
        super().__init__(data)
        self.fields["group"].choices = [(row["public_id"], row["name"]) for row in groups]
        self.fields["content"].choices = [(row["key"], row["title"]) for row in contents]
        self.fields["attribute"].choices = attribute_choices(custom_fields)

    def clean(self):
        data = super().clean()
        for name in ("updated", "expiry"):
            start, end = data.get(f"{name}_from"), data.get(f"{name}_to")
            if start and end and end < start:
                self.add_error(f"{name}_to", "Must not be before the start date.")
        return data

    def _range(self, name):
        start, end = self.cleaned_data.get(f"{name}_from"), self.cleaned_data.get(f"{name}_to")
        if not start and not end:
            return None
        # The last day is included: the range ends at the next midnight (UTC).
        return DateRange(
            start=_day_start(start) if start else None, end=_day_start(end + timedelta(days=1)) if end else None
        )

    def result_filters(self):
        data = self.cleaned_data
        return ResultFilters(
            group_ids=tuple(data.get("group") or ()),
            user_ids=(data["user"],) if data.get("user") else (),
            content_ids=tuple(data.get("content") or ()),
            states=tuple(data.get("state") or ()),
            enrollment_types=tuple(data.get("type") or ()),
            custom_fields=_custom_field_filters(data.get("attribute") or ()),
            updated_at=self._range("updated"),
            expiry=self._range("expiry"),
        )

    def order(self):
        data = self.cleaned_data
        return ResultOrder(field=SORTS[data.get("sort") or "updated"], descending=(data.get("dir") or "desc") == "desc")

    @property
    def page_size(self):
        return self.cleaned_data.get("per_page") or PAGE_SIZES[1]
