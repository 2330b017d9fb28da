"""Rendering a dashboard page: the page itself, its deferred sections (served from the cache, else
computed now or filled in later from a fragment request), and the 400 page of bad filters."""

from django.conf import settings
from django.shortcuts import render

from ..cache import cache_seconds, cached_section, peek_section
from .paging import query_string


def render_page(request, template, context, section=None):
    """Render a dashboard page: adds the sub-navigation's current section and the cache TTL."""
    context.update(section=section, cache_minutes=max(1, round(cache_seconds() / 60)))
    return render(request, template, context)


def _computes_now(request, name):
    """Whether this request computes section `name` when it is not cached: the page's fragment
    request, `wait=1` (the no-JavaScript link), or DASHBOARD_DEFER_SECTIONS off."""
    return (
        request.GET.get("fragment") == name
        or request.GET.get("wait") == "1"
        or not getattr(settings, "DASHBOARD_DEFER_SECTIONS", True)
    )


def deferred_section(request, workspace, name, parts, compute, fragment=None):
    """The Section from the cache, else computed now (see _computes_now; `fragment` names the
    page part it belongs to, by default `name`), else None: the page is then sent at once with a
    placeholder that static/js/dashboards.js fills from the fragment."""
    if _computes_now(request, fragment or name):
        return cached_section(workspace, name, parts, compute)
    return peek_section(workspace, name, parts)


def _deferred_urls(request, name):
    params = request.GET.copy()
    for extra in ("fragment", "wait"):
        params.pop(extra, None)
    return {
        "fragment_url": query_string(params, fragment=name),
        "wait_url": query_string(params, wait=1),
    }


def page_or_fragment(request, template, fragment_template, context, name, section):
    """The whole page, or only the deferred section's HTML for its fragment request."""
    if request.GET.get("fragment") == name:
        return render_page(request, fragment_template, context, section)
    context.update(_deferred_urls(request, name))
    return render_page(request, template, context, section)


def bad_filters(request, form):
    """400: the page's GET parameters named with what is wrong with them."""
    return render(request, "analytics/dashboards/bad_filters.html", {"form": form}, status=400)
