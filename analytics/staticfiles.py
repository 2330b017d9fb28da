"""A static files finder for plotly.js, served from the plotly Python package itself.

The plotly package ships `package_data/plotly.min.js` (the plotly.js build its figures are made
for). Serving that file as `vendor/plotly/plotly.min.js` keeps the page and the Python figures on
the same plotly.js version, needs no CDN, and keeps a 4.6 MB copy out of the repository. Only that
one file is exposed (not the rest of package_data). Listed in STATICFILES_FINDERS, so runserver,
WhiteNoise and collectstatic all see it.
"""

import importlib.util
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PLOTLY_JS_PREFIX = "vendor/plotly"
PLOTLY_JS_NAME = "plotly.min.js"
PLOTLY_JS_STATIC_PATH = f"{PLOTLY_JS_PREFIX}/{PLOTLY_JS_NAME}"


def plotly_package_data_dir():
    spec = importlib.util.find_spec("plotly")
    return Path(spec.origin).parent / "package_data"


class PlotlyJsFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=plotly_package_data_dir())
        self.storage.prefix = PLOTLY_JS_PREFIX

    def check(self, **kwargs):
        if not self.storage.exists(PLOTLY_JS_NAME):
            return [
                Error(
                    f"{PLOTLY_JS_NAME} is missing from the plotly package ({self.storage.location}).",
                    hint="Reinstall plotly from requirements.txt.",
                    id="analytics.E001",
                )
            ]
        return []

    def find(self, path, find_all=False, **kwargs):
        if path == PLOTLY_JS_STATIC_PATH and self.storage.exists(PLOTLY_JS_NAME):
            match = self.storage.path(PLOTLY_JS_NAME)
            return [match] if find_all else match
        return [] if find_all else None

    def list(self, ignore_patterns):
        if self.storage.exists(PLOTLY_JS_NAME):
            yield PLOTLY_JS_NAME, self.storage
