"""The courses list: the courses an instructor teaches (an admin: every course), searchable."""

from django.contrib.auth.decorators import login_required

from analytics.queries import analyse as analyse_queries

from .access import refuse, staff_viewer
from .paging import pagination
from .rendering import render_page

COURSE_PAGE_SIZE = 25


@login_required
def courses_dashboard(request):
    """The courses an instructor teaches (an admin: every course), searchable, with links."""
    viewer, refused = staff_viewer(request)
    if refused:
        return refused
    search = request.GET.get("q", "").strip()[:100]
    page_number = request.GET.get("page", "1")
    if not page_number.isdigit() or int(page_number) < 1:
        return refuse(request, "page: enter a whole number from 1.", status=400)
    page_number = int(page_number)
    contents = analyse_queries.analyse_contents(
        viewer.workspace,
        search=search,
        limit=COURSE_PAGE_SIZE,
        skip=(page_number - 1) * COURSE_PAGE_SIZE,
        course_ids=viewer.course_ids,
    )
    return render_page(
        request,
        "analytics/dashboards/courses.html",
        {
            "courses": contents.rows,
            "search": search,
            "pages": pagination(contents.total, page_number, COURSE_PAGE_SIZE, request.GET),
            "is_admin": viewer.is_admin,
        },
        "courses" if viewer.is_admin else "overview",
    )
