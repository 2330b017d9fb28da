"""`{{ seconds|duration }}`: a duration in seconds for people (`2 h 05 min`)."""

from django import template

from analytics.charts import format_duration

register = template.Library()


@register.filter
def duration(seconds):
    if seconds in (None, ""):
        return ""
    return format_duration(seconds)
