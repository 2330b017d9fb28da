from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def learner_dashboard(request):
    return render(
        request,
        "analytics/placeholder.html",
        {"heading": "My learning", "explanation": "Your time per page, per day and per course will appear here."},
    )


@login_required
def workspace_dashboard(request):
    return render(
        request,
        "analytics/placeholder.html",
        {"heading": "Workspace dashboard", "explanation": "Course and workspace analytics will appear here."},
    )
