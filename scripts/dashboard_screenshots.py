"""Screenshots of the dashboards at 1280 px and 390 px, for docs/screenshots/.

Run against a server holding the demo data (`make run`, or `manage.py runserver` after
`manage.py generate_demo_data`), with Debian's Chromium:

    .venv/bin/python scripts/dashboard_screenshots.py --url http://127.0.0.1:8000 --out docs/screenshots

It signs in with the demo logins (courses/services/demo_data.py), opens each page, waits for its
charts, and saves `<page>-1280.png` / `<page>-390.png`, each shrunk to a palette PNG (Pillow, when
installed) so that the files stay small. Pages: learner dashboard, workspace overview, a course,
results, a video (the first course and video the instructor's pages link to).
"""

import argparse
import io
import re
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
WIDTHS = (1280, 390)
LOGINS = {
    "admin": ("admin@demo.example", "demo-admin-pass"),
    "learner": ("learner@demo.example", "demo-learner-pass"),
}


def sign_in(page, base, who):
    email, password = LOGINS[who]
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def wait_for_charts(page):
    page.wait_for_load_state("load")
    # Figures not cached yet come as a fragment after the page (static/js/dashboards.js).
    page.wait_for_function("!document.querySelector('[data-fragment-url]')", timeout=120_000)
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.plotly-graph-div')).every(d => d.querySelector('svg.main-svg'))"
    )
    page.wait_for_timeout(400)


def save(page, path, max_colours):
    data = page.screenshot(full_page=True)
    try:
        from PIL import Image
    except ImportError:
        path.write_bytes(data)
        return
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.quantize(colors=max_colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--colours", type=int, default=64, help="palette size of the PNGs")
    options = parser.parse_args()
    base, out = options.url.rstrip("/"), Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for who, pages in (("learner", [("learner", "/dashboard/")]), ("admin", None)):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            sign_in(page, base, who)
            if pages is None:
                page.goto(f"{base}/dashboards/")
                wait_for_charts(page)
                course = page.get_attribute("#top-courses-table a", "href")
                page.goto(base + course)
                wait_for_charts(page)
                video = page.get_attribute("#video-table a", "href")
                pages = [
                    ("workspace", "/dashboards/"),
                    ("course", course),
                    ("results", "/dashboards/results/?per_page=25"),
                    ("video", video),
                ]
            for name, path in pages:
                for width in WIDTHS:
                    page.set_viewport_size({"width": width, "height": 900})
                    page.goto(base + path)
                    wait_for_charts(page)
                    target = out / f"{name}-{width}.png"
                    save(page, target, options.colours)
                    print(f"{target}  {target.stat().st_size // 1024} KB  {re.sub(r'[?#].*', '', path)}")
            context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
