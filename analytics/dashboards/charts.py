"""Plotly figures of the instructor and admin dashboards.

Same conventions as analytics.charts (the learner dashboard): figures built in Python from the plain
data a query function returned, the Okabe-Ito palette, no mode bar, and every chart paired in the
template with a table carrying the same numbers. Lines also differ by dash and marker, so that
no series is told apart by colour alone. No figure computes a number: they only draw them.
"""

import plotly.graph_objects as go
from django.templatetags.static import static

from analytics import charts as learner_charts
from analytics.charts import BLUE, GREEN, ORANGE, PURPLE, SKY_BLUE, TEXT, VERMILLION, _horizontal_bars, _label, _layout

YELLOW = "#F0E442"
BLACK = "#000000"
PALETTE = [BLUE, ORANGE, GREEN, VERMILLION, SKY_BLUE, PURPLE, YELLOW, BLACK]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
MARKERS = ["circle", "square", "diamond", "triangle-up", "x", "cross"]
# Sequential and colour-blind safe (light yellow to dark blue), for the map.
MAP_SCALE = "Cividis"
TOPOJSON_STATIC_DIR = "vendor/topojson/"

STATE_COLOURS = {
    "NOT_STARTED": SKY_BLUE,
    "IN_PROGRESS": ORANGE,
    "APPROVED": GREEN,
    "FAILED": VERMILLION,
    "EXPIRED": PURPLE,
}


def chart_config():
    """plotly.js config: no mode bar; map outlines from our static files (works offline)."""
    return {"displayModeBar": False, "responsive": True, "topojsonURL": static(TOPOJSON_STATIC_DIR)}


def chart_html(figure, div_id):
    """The figure as an HTML fragment (plotly.js is loaded once by the page, from static)."""
    return learner_charts.chart_html(figure, div_id, config=chart_config())


def _legend_layout(figure, height, **layout):
    _layout(figure, height, **layout)
    figure.update_layout(
        showlegend=True,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        margin={"l": 8, "r": 16, "t": 36, "b": 8},
    )
    return figure


def _line(name, x, y, index, shape="linear", **extra):
    return go.Scatter(
        name=name,
        x=x,
        y=y,
        mode="lines+markers",
        line={"color": PALETTE[index % len(PALETTE)], "dash": DASHES[index % len(DASHES)], "shape": shape, "width": 2},
        marker={"symbol": MARKERS[index % len(MARKERS)], "size": 6},
        hovertemplate=f"{_label(name)}: %{{y}}<extra>%{{x}}</extra>",
        **extra,
    )


def count_bars(names, values, colour=BLUE, text_colour="white"):
    """Horizontal bars of counts, the first name on top."""
    count = len(names)
    positions = list(range(count))
    labels = [_label(name) for name in reversed(names)]
    figure = go.Figure(
        go.Bar(
            orientation="h",
            y=positions,
            x=list(reversed(values)),
            marker_color=colour,
            text=[str(value) for value in reversed(values)],
            textposition="auto",
            insidetextfont={"color": text_colour},
            outsidetextfont={"color": TEXT},
            customdata=labels,
            hovertemplate="%{customdata}: %{x}<extra></extra>",
        )
    )
    _layout(figure, 70 + 30 * max(count, 1), bargap=0.3)
    figure.update_yaxes(tickmode="array", tickvals=positions, ticktext=labels, showgrid=False, zeroline=False)
    figure.update_xaxes(rangemode="tozero")
    return figure


# Workspace -----------------------------------------------------------------------------------------


def _steps(buckets, first_day, last_day):
    """x, y of a step line: each bucket drawn from its start (not before the period's first day)
    to the next one, the last held until the period's last day."""
    x = [max(start, first_day).isoformat() for start, _ in buckets]
    y = [count for _, count in buckets]
    if buckets:
        x.append(last_day.isoformat())
        y.append(y[-1])
    return x, y


def active_learners_figure(trend):
    """Daily points, and weekly / monthly counts drawn as steps across their week / month."""
    first_day, last_day = trend.daily[0][0], trend.daily[-1][0]
    figure = go.Figure(
        [
            _line("Per day", [day.isoformat() for day, _ in trend.daily], [n for _, n in trend.daily], 0),
            _line("Per week", *_steps(trend.weekly, first_day, last_day), 1, "hv"),
            _line("Per month", *_steps(trend.monthly, first_day, last_day), 2, "hv"),
        ]
    )
    _legend_layout(figure, 300, yaxis_title="Active learners")
    figure.update_xaxes(type="date")
    figure.update_yaxes(rangemode="tozero")
    return figure


def enrollments_figure(timeline):
    x = [row["start"].isoformat() for row in timeline.rows]
    figure = go.Figure(
        [
            go.Bar(name="Enrolled", x=x, y=[row["enrolled"] for row in timeline.rows], marker_color=BLUE),
            go.Bar(
                name="Unenrolled",
                x=x,
                y=[row["unenrolled"] for row in timeline.rows],
                marker_color=VERMILLION,
                marker_pattern_shape="/",
            ),
        ]
    )
    _legend_layout(figure, 300, yaxis_title=f"Per {timeline.unit}", barmode="group", bargap=0.2)
    figure.update_xaxes(type="date")
    figure.update_yaxes(rangemode="tozero")
    return figure


def state_figure(by_state, labels):
    """Results per state, in the pipeline's order (NOT_STARTED first)."""
    states = list(by_state)
    figure = go.Figure(
        go.Bar(
            x=[labels[state] for state in states],
            y=[by_state[state] for state in states],
            marker_color=[STATE_COLOURS.get(state, BLUE) for state in states],
            text=[str(by_state[state]) for state in states],
            textposition="outside",
            hovertemplate="%{x}: %{y}<extra></extra>",
        )
    )
    _layout(figure, 300, yaxis_title="Results", bargap=0.3)
    figure.update_xaxes(type="category", showgrid=False)
    figure.update_yaxes(rangemode="tozero")
    return figure


def top_courses_figure(contents):
    return _horizontal_bars([row["name"] for row in contents], [row["time_spent"] for row in contents], BLUE, "white")


# Course ------------------------------------------------------------------------------------------


def enrollment_by_mode_figure(rows, modes, labels):
    """Learners enrolled at the end of each day, stacked by mode; everyone ever enrolled dotted."""
    x = [row["date"].isoformat() for row in rows]
    traces = [
        go.Scatter(
            name=labels.get(mode, mode),
            x=x,
            y=[row[mode] for row in rows],
            stackgroup="modes",
            mode="lines",
            line={"color": PALETTE[index % len(PALETTE)], "width": 1},
            hovertemplate=f"{_label(labels.get(mode, mode))}: %{{y}}<extra>%{{x}}</extra>",
        )
        for index, mode in enumerate(modes)
    ]
    traces.append(
        go.Scatter(
            name="Ever enrolled",
            x=x,
            y=[row["cumulative_count"] for row in rows],
            mode="lines",
            line={"color": BLACK, "dash": "dot", "width": 2},
            hovertemplate="Ever enrolled: %{y}<extra>%{x}</extra>",
        )
    )
    figure = go.Figure(traces)
    _legend_layout(figure, 320, yaxis_title="Learners")
    figure.update_xaxes(type="date")
    figure.update_yaxes(rangemode="tozero")
    return figure


def birth_year_figure(rows):
    figure = go.Figure(
        go.Bar(
            x=[row["birth_year"] for row in rows],
            y=[row["count"] for row in rows],
            marker_color=BLUE,
            hovertemplate="Born %{x}: %{y}<extra></extra>",
        )
    )
    _layout(figure, 260, yaxis_title="Learners", xaxis_title="Birth year", bargap=0.1)
    figure.update_yaxes(rangemode="tozero")
    return figure


def country_map_figure(rows):
    """A world choropleth of learners per country (ISO alpha-3), outlines from our static files."""
    figure = go.Figure(
        go.Choropleth(
            locations=[row["alpha3"] for row in rows],
            z=[row["count"] for row in rows],
            text=[_label(row["name"]) for row in rows],
            locationmode="ISO-3",
            colorscale=MAP_SCALE,
            reversescale=True,
            marker_line_color="white",
            marker_line_width=0.5,
            colorbar={
                "title": {"text": "Learners", "side": "top"},
                "orientation": "h",
                "thickness": 10,
                "len": 0.6,
                "x": 0.5,
                "xanchor": "center",
                "y": -0.02,
                "yanchor": "top",
            },
            hovertemplate="%{text}: %{z}<extra></extra>",
        )
    )
    _layout(figure, 340)
    figure.update_geos(
        showframe=False,
        showcoastlines=False,
        showcountries=True,
        countrycolor="#bbbbbb",
        projection_type="natural earth",
        landcolor="#eeeeee",
        showland=True,
        lataxis_range=[-58, 85],
    )
    return figure


def weekly_activity_figure(rows, labels):
    x = [row["interval_start"].date().isoformat() for row in rows]
    figure = go.Figure(
        [_line(labels[kind], x, [row[kind] for row in rows], index) for index, kind in enumerate(labels)]
    )
    _legend_layout(figure, 300, yaxis_title="Learners per week")
    figure.update_xaxes(type="date")
    figure.update_yaxes(rangemode="tozero")
    return figure


def chapter_quiz_figure(chapters):
    return _horizontal_bars(
        [chapter["chapter_title"] for chapter in chapters],
        [chapter["quiz_duration_s"] for chapter in chapters],
        GREEN,
        TEXT,
    )


def retention_figure(retention):
    """Learners per segment (x: the segment's start, seconds); the largest fall marked."""
    x = [segment["start_s"] for segment in retention.segments]
    figure = go.Figure(
        go.Scatter(
            x=x,
            y=[segment["viewers"] for segment in retention.segments],
            mode="lines+markers",
            line_shape="hv",
            line={"color": BLUE, "width": 2},
            marker={"size": 5},
            fill="tozeroy",
            fillcolor="rgba(0,114,178,0.12)",
            hovertemplate="From %{x} s: %{y} learners<extra></extra>",
        )
    )
    _layout(figure, 280, yaxis_title="Learners", xaxis_title="Seconds into the video")
    if retention.largest_drop_segment is not None:
        start = retention.largest_drop_segment * retention.segment_length_s
        figure.add_vline(x=start, line={"color": VERMILLION, "dash": "dash", "width": 2})
        figure.add_annotation(
            x=start,
            y=1,
            yref="paper",
            text=f"largest drop: -{retention.largest_drop}",
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"color": TEXT},
        )
    figure.update_yaxes(rangemode="tozero")
    return figure


# Video -------------------------------------------------------------------------------------------


def timeline_figure(timeline, series, y_title, percent=False):
    """Lines over the timeline rows ({date, ...}); `series` maps row keys to legend names."""
    x = [row["date"] for row in timeline]
    traces = []
    for index, (key, name) in enumerate(series.items()):
        y = [row[key] for row in timeline]
        traces.append(_line(name, x, y, index, connectgaps=False))
    figure = go.Figure(traces)
    _legend_layout(figure, 280, yaxis_title=y_title)
    figure.update_xaxes(type="date")
    figure.update_yaxes(rangemode="tozero", tickformat=".0%" if percent else None)
    return figure


def watch_time_figure(timeline):
    figure = go.Figure(
        go.Bar(
            x=[row["date"] for row in timeline],
            y=[round(row["watch_time"] / 60, 1) for row in timeline],
            marker_color=GREEN,
            hovertemplate="%{x}: %{y} min<extra></extra>",
        )
    )
    _layout(figure, 260, yaxis_title="Minutes watched")
    figure.update_xaxes(type="date")
    figure.update_yaxes(rangemode="tozero")
    return figure


# Problems ------------------------------------------------------------------------------------------

ANSWER_MARKS = {True: "✓", False: "✗", None: "–"}  # correct, wrong, not graded: not by colour alone
ANSWER_COLOURS = {True: GREEN, False: VERMILLION, None: SKY_BLUE}


def answer_label(answer):
    """`✓ text` / `✗ text` (`(variant n)` added when the problem is randomized)."""
    text = answer["answer_value"] if answer["answer_value"] not in (None, "") else "(blank)"
    variant = f" (variant {answer['variant']})" if answer.get("variant") is not None else ""
    return f"{ANSWER_MARKS[answer['correct']]} {text}{variant}"


def answer_distribution_figure(answers):
    """Horizontal bars of learners per answer of one part (the rows of
    problem_answer_distribution, top to bottom in their order); right answers green and marked ✓,
    wrong ones vermillion and marked ✗."""
    count = len(answers)
    positions = list(range(count))
    ordered = list(reversed(answers))
    labels = [_label(answer_label(answer)) for answer in ordered]
    figure = go.Figure(
        go.Bar(
            orientation="h",
            y=positions,
            x=[answer["count"] for answer in ordered],
            marker_color=[ANSWER_COLOURS[answer["correct"]] for answer in ordered],
            text=[str(answer["count"]) for answer in ordered],
            textposition="auto",
            insidetextfont={"color": "white"},
            outsidetextfont={"color": TEXT},
            customdata=labels,
            hovertemplate="%{customdata}: %{x} learners<extra></extra>",
        )
    )
    _layout(figure, 70 + 32 * max(count, 1), xaxis_title="Learners (last answer)", bargap=0.3)
    figure.update_yaxes(tickmode="array", tickvals=positions, ticktext=labels, showgrid=False, zeroline=False)
    figure.update_xaxes(rangemode="tozero")
    return figure


def grade_label(row):
    return f"{row['grade']} / {row['max_grade']}"


def grade_distribution_figure(grades):
    """Bars of learners per last grade (the rows of problem_grade_distribution, in their order)."""
    figure = go.Figure(
        go.Bar(
            x=[grade_label(row) for row in grades],
            y=[row["count"] for row in grades],
            marker_color=BLUE,
            text=[str(row["count"]) for row in grades],
            textposition="auto",
            insidetextfont={"color": "white"},
            outsidetextfont={"color": TEXT},
            hovertemplate="Grade %{x}: %{y} learners<extra></extra>",
        )
    )
    _layout(figure, 260, xaxis_title="Grade (points of the problem)", yaxis_title="Learners", bargap=0.3)
    figure.update_xaxes(type="category", showgrid=False)
    figure.update_yaxes(rangemode="tozero")
    return figure


def video_timeline_figure(timeline):
    """Views and distinct learners per segment (x: the segment's start, seconds), two step lines
    told apart by dash and marker too."""
    x = [row["start_s"] for row in timeline]
    figure = go.Figure(
        [
            _line("Views", x, [row["num_views"] for row in timeline], 0, shape="hv"),
            _line("Learners", x, [row["num_users"] for row in timeline], 1, shape="hv"),
        ]
    )
    _legend_layout(figure, 280, yaxis_title="Views / learners", xaxis_title="Seconds into the video")
    figure.update_yaxes(rangemode="tozero")
    return figure
