"""The OpenAPI schema describes every endpoint without a warning, so generated clients work."""

from django.core.management import call_command


def test_schema_generates_and_validates_without_warnings(tmp_path, db):
    schema_file = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))

    schema = schema_file.read_text()
    for path in (
        "/api/user/analytics",
        "/api/v2/courses/stats",
        "/analyse/results",
        "/xapi/statements",
        "/analytics/export/{export_id}",
        "/api/track/page-sessions",
        "/api/v0/course_summaries/",
        "/api/v0/programs/",
        "/api/v0/courses/{course_id}/reports/{report_name}/",
    ):
        assert f"  {path}:" in schema


def test_schema_shows_the_videocloud_shapes_of_the_document(tmp_path, db):
    import json

    schema_file = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(schema_file))
    schema = json.loads(schema_file.read_text())
    components = schema["components"]["schemas"]

    def props(name):
        return components[name]["properties"]

    assert "/analytics/videos/{id}" in schema["paths"]
    # period.previous is always there; integers where the document shows integers; no null rates
    assert "previous" in components["VideoCloudPeriod"]["required"]
    assert props("VideoCloudVideoEngagement")["averageWatchTime"]["type"] == "integer"
    assert props("VideoCloudEngagement")["pagesPerSession"]["type"] == "integer"
    assert props("VideoCloudResponseTime")["average"]["type"] == "integer"
    assert "nullable" not in props("VideoCloudVideoEngagement")["completionRate"]
    # processing: the document's queues, then the export jobs
    assert list(props("VideoCloudProcessing")) == ["videos", "thumbnails", "exports"]
    assert props("VideoCloudQueue")["averageTime"]["type"] == "integer"
    # exports: processing (never "queued"), a link and its expiry from the start, failures coded
    export = props("ExportJobData")
    assert "queued" not in components[export["status"]["allOf"][0]["$ref"].split("/")[-1]]["enum"]
    assert "nullable" not in export["downloadUrl"] and "nullable" not in export["expiresAt"]
    assert set(props("ExportJobFailure")) == {"code", "message"}
    download = schema["paths"]["/analytics/export/{export_id}/download"]["get"]["responses"]
    assert "202" in download


def test_schema_describes_the_open_edx_problem_and_timeline_endpoints(tmp_path, db):
    schema_file = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(schema_file))
    schema = schema_file.read_text()
    for path in (
        "/api/v0/courses/{course_id}/problems/",
        "/api/v0/courses/{course_id}/problems_and_tags/",
        "/api/v0/problems/{module_id}/answer_distribution/",
        "/api/v0/problems/{module_id}/grade_distribution/",
        "/api/v0/problems/{module_id}/sequential_open_distribution/",
        "/api/v0/videos/{video_id}/timeline/",
    ):
        assert f"  {path}:" in schema
    assert "consolidated_variant:" in schema and "num_views:" in schema
