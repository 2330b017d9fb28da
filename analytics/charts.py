"""Plotly figures for the dashboards, built in Python and rendered as HTML fragments.

Each `*_figure` function takes the plain data of a query and returns a plotly Figure; `chart_html`
renders one for a template (plotly.js itself is loaded once by the page, from static). Colours are
the Okabe-Ito palette, which stays distinguishable for the common colour-vision deficiencies, and
every chart has a table beside it carrying the same numbers.
"""

import html
import json

import plotly.graph_objects as go
from django.utils.safestring import mark_safe

# Okabe & Ito (2008), "Color Universal Design". Text inside bars: white on blue (5.2:1), dark on
# green (4.5:1).
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
TEXT = "#1d2433"
GRID = "#dde1e8"

CHART_CONFIG = {"displayModeBar": False, "responsive": True}


def format_duration(seconds):
    """A duration for people: `2 h 05 min`, `4 min 10 s`, `45 s`, `0 s`."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _minutes(seconds):
    return round(seconds / 60, 1)


def _label(text):
    # plotly.js reads a few HTML-like tags in labels; show user-provided names as plain text.
    return html.escape(str(text), quote=False)


def _layout(figure, height, **layout):
    figure.update_layout(
        template="none",
        height=height,
        margin={"l": 8, "r": 16, "t": 8, "b": 8},
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13, "color": TEXT},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
        hoverlabel={"bgcolor": "white"},
        **layout,
    )
    figure.update_xaxes(automargin=True, gridcolor=GRID, zerolinecolor=GRID)
    figure.update_yaxes(automargin=True, gridcolor=GRID, zerolinecolor=GRID)
    return figure


def daily_time_figure(daily_stats, today):
    """Bars of minutes per day, oldest first; today's bar in orange and labelled `Today`."""
    labels = [
        f"Today<br>{day.date.day}" if day.date == today else day.date.strftime("%a<br>%d").replace("<br>0", "<br>")
        for day in daily_stats
    ]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=[_minutes(day.duration_s) for day in daily_stats],
            marker_color=[ORANGE if day.date == today else BLUE for day in daily_stats],
            customdata=[[day.date.isoformat(), format_duration(day.duration_s)] for day in daily_stats],
            hovertemplate="%{customdata[0]}: %{customdata[1]}<extra></extra>",
        )
    )
    _layout(figure, 280, yaxis_title="Minutes", bargap=0.25)
    figure.update_xaxes(type="category", showgrid=False, tickangle=0)
    figure.update_yaxes(rangemode="tozero")
    return figure


def _horizontal_bars(names, seconds, colour, text_colour):
    # Bars at positions 0..n-1 labelled with the names (two equal names stay two bars), the
    # largest first at the top: plotly draws position 0 at the bottom.
    count = len(names)
    positions = list(range(count))
    labels = [_label(name) for name in reversed(names)]
    figure = go.Figure(
        go.Bar(
            orientation="h",
            y=positions,
            x=[_minutes(value) for value in reversed(seconds)],
            marker_color=colour,
            text=[format_duration(value) for value in reversed(seconds)],
            textposition="auto",
            insidetextanchor="end",
            insidetextfont={"color": text_colour},
            outsidetextfont={"color": TEXT},
            customdata=[[label, format_duration(value)] for label, value in zip(labels, reversed(seconds))],
            hovertemplate="%{customdata[0]}: %{customdata[1]}<extra></extra>",
        )
    )
    _layout(figure, 70 + 34 * count, xaxis_title="Minutes", bargap=0.3, uniformtext={"minsize": 10, "mode": "hide"})
    figure.update_yaxes(
        tickmode="array", tickvals=positions, ticktext=labels, showgrid=False, zeroline=False, ticklabelstandoff=6
    )
    figure.update_xaxes(rangemode="tozero")
    return figure


def page_time_figure(page_stats):
    """Horizontal bars of minutes per page, the page with the most time on top."""
    return _horizontal_bars(
        [page.page for page in page_stats], [page.total_duration_s for page in page_stats], BLUE, "white"
    )


def chapter_quiz_figure(course):
    """Horizontal bars of quiz minutes per chapter of one course, the most on top."""
    return _horizontal_bars(
        [chapter.chapter_title for chapter in course.chapters],
        [chapter.quiz_duration_s for chapter in course.chapters],
        GREEN,
        TEXT,
    )


# Characters that could end a <script> data block or open a comment in it, as JSON escapes
# (the same as django.utils.html.json_script).
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def chart_html(figure, div_id, config=CHART_CONFIG):
    """The figure as an HTML fragment for a template: an empty div and the figure as a JSON data
    block, which static/js/charts.js draws. No inline script or style attribute, so the page's
    Content-Security-Policy needs neither 'unsafe-inline' (docs/security.md). plotly.js and
    charts.js must be on the page."""
    spec = f'{{"figure":{figure.to_json()},"config":{json.dumps(config)}}}'.translate(_JSON_SCRIPT_ESCAPES)
    div_id = html.escape(div_id)
    return mark_safe(
        f'<div id="{div_id}" class="plotly-graph-div chart-figure" data-figure="{div_id}-figure"></div>'
        f'<script type="application/json" id="{div_id}-figure">{spec}</script>'
    )
