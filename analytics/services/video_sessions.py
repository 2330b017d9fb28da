"""Turn the player events of one viewing session into one VideoView.

Open edX (tracking logs and xAPI alike) reports a viewing as a series of player events: play at
second t, pause at t', seek from a to b, stop, complete. The VideoView of a session is a pure
function of all of that session's events, so it can be recomputed whenever an event arrives, in any
order, and re-sending an event never counts twice.

Rules:
- A play at position p starts an interval; the next pause / stop / complete at position q closes
  it as [p, q]; a seek from a to b while playing closes [p, a] and starts a new interval at b.
- Where the player reports its own played segments (the xAPI video profile's `played-segments`
  extension), those intervals are used as well.
- watched_s is the length of the union of the intervals (a part watched twice counts once),
  capped at the video's duration when known; position_s is the furthest second the player was seen
  at; segments are the indexes of the segment_length_s slices that an interval touches.
- completed when a complete event was seen (or the player reported completion).
"""

import math
from dataclasses import dataclass, field
from datetime import datetime

PLAY = "play"
PAUSE = "pause"
STOP = "stop"
COMPLETE = "complete"
SEEK = "seek"
# Order of kinds at the same instant: a complete and a stop logged together close the interval the
# play opened, whatever order they were written in.
_KIND_ORDER = {PLAY: 0, SEEK: 1, PAUSE: 2, STOP: 3, COMPLETE: 4}
# A player position beyond a day is a broken client, not a video.
MAX_POSITION_S = 24 * 3600


@dataclass(frozen=True)
class PlayerEvent:
    """One player event. position is the second the player was at (for a seek: where it left)."""

    at: datetime
    kind: str
    position: float | None = None
    seek_to: float | None = None
    played_segments: tuple = ()  # ((start, end), ...) reported by the player itself
    completed: bool = False


@dataclass
class SessionSummary:
    started_at: datetime
    watched_s: int = 0
    position_s: int = 0
    segments: list = field(default_factory=list)
    is_completed: bool = False
    watched_first_segment: bool = False
    watched_last_segment: bool = False


def clean_position(value):
    """A player position in seconds, or None when absent or not a sane number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
    if not math.isfinite(value) or value < 0 or value > MAX_POSITION_S:
        return None
    return float(value)


def parse_played_segments(text):
    """Intervals from the xAPI video profile's `played-segments` ("0[.]5.3[,]10[.]20")."""
    if not isinstance(text, str) or not text:
        return ()
    intervals = []
    for part in text.split("[,]"):
        start, sep, end = part.partition("[.]")
        start, end = clean_position(start), clean_position(end)
        if sep and start is not None and end is not None and end >= start:
            intervals.append((start, end))
    return tuple(intervals)


def _union_length(intervals):
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def _segment_indexes(intervals, segment_length_s, last_index):
    indexes = set()
    for start, end in intervals:
        first = int(start // segment_length_s)
        # An interval ending exactly on a boundary does not touch the next segment.
        last = max(first, math.ceil(end / segment_length_s) - 1)
        if last_index is not None:
            first, last = min(first, last_index), min(last, last_index)
        indexes.update(range(first, last + 1))
    return sorted(indexes)


def summarize_session(events, duration_s=0, segment_length_s=5):
    """SessionSummary of one viewing session's player events (any order; at least one event)."""
    ordered = sorted(events, key=lambda event: (event.at, _KIND_ORDER.get(event.kind, 9)))
    intervals, positions = [], []
    playing_from = None
    completed = False
    for event in ordered:
        intervals.extend(event.played_segments)
        positions.extend(end for _, end in event.played_segments)
        if event.position is not None:
            positions.append(event.position)
        completed = completed or event.completed or event.kind == COMPLETE
        if event.kind == PLAY:
            if event.position is not None:
                playing_from = event.position
        elif event.kind == SEEK:
            if playing_from is not None and event.position is not None and event.position >= playing_from:
                intervals.append((playing_from, event.position))
            if playing_from is not None:
                playing_from = event.seek_to
        elif event.kind in (PAUSE, STOP, COMPLETE):
            end = event.position
            if end is None and event.kind == COMPLETE and duration_s:
                end = float(duration_s)
            if playing_from is not None and end is not None and end >= playing_from:
                intervals.append((playing_from, end))
            playing_from = None
    if duration_s:
        intervals = [(min(start, duration_s), min(end, duration_s)) for start, end in intervals]
        positions = [min(position, duration_s) for position in positions]
    if completed and duration_s:
        positions.append(float(duration_s))
    last_index = max(0, math.ceil(duration_s / segment_length_s) - 1) if duration_s else None
    segments = _segment_indexes(intervals, segment_length_s, last_index)
    return SessionSummary(
        started_at=ordered[0].at,
        watched_s=round(_union_length(intervals)),
        position_s=round(max(positions, default=0)),
        segments=segments,
        is_completed=completed,
        watched_first_segment=0 in segments,
        watched_last_segment=completed or (last_index is not None and last_index in segments),
    )
