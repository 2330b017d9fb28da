"""Instructor and admin dashboards (server-rendered, plotly): views, filters, charts, caching."""
