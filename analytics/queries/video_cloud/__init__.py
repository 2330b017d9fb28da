"""Queries behind the VideoCloud-compatible analytics endpoints (docs/api/video_cloud.md)."""

from analytics.definitions import DATA_PERIODS, SYSTEM_PERIODS, Period, resolve_period

from .periods import (
    DataUnavailable,
    InvalidMetrics,
    InvalidParameter,
    InvalidPeriod,
    VideoCloudQueryError,
    parse_compare,
    parse_group_by,
    parse_metrics,
    validate_period_name,
)
from .system import HEALTH_PROBE_ENDPOINT, register_processing_source, system_health, system_performance, system_period
from .users import user_analytics, user_engagement, user_period
from .videos import video_analytics, video_period, video_summary

__all__ = [
    "DATA_PERIODS",
    "SYSTEM_PERIODS",
    "DataUnavailable",
    "InvalidMetrics",
    "InvalidParameter",
    "InvalidPeriod",
    "Period",
    "VideoCloudQueryError",
    "parse_compare",
    "parse_group_by",
    "parse_metrics",
    "resolve_period",
    "validate_period_name",
    "HEALTH_PROBE_ENDPOINT",
    "register_processing_source",
    "system_health",
    "system_performance",
    "system_period",
    "user_analytics",
    "user_engagement",
    "user_period",
    "video_analytics",
    "video_period",
    "video_summary",
]
