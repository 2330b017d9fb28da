"""/api/docs/ (Swagger UI) and /api/redoc/ load every asset from this site's static files
(drf-spectacular-sidecar), never from a CDN, and point at this site's schema."""

import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_page_loads_its_assets_from_static_files_only(client, path):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html[:500]
    for url in assets:
        assert not url.startswith(("http:", "https:", "//")), url
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/").split("?")[0]) is not None, url
    assert any("drf_spectacular_sidecar" in url for url in assets)
    # Swagger UI's start-up script is a file of its own (no inline script under the CSP); it or
    # the page names this site's schema.
    scripts = [client.get(url).content.decode() for url in assets if url.startswith(path + "?script")]
    assert "/api/schema/" in html + "".join(scripts)
    # Under gunicorn whitenoise serves these files from STATIC_ROOT (collectstatic); finders.find
    # above proves the files exist in an installed app.
