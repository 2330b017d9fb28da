"""Dependencies point down: `api/` -> `queries/`, `services/` -> models (docs/architecture.md).

No module below the HTTP layer imports `analytics.api`, at module level or inside a function,
absolutely or relatively. The modules checked are read as source (ast), not imported.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTTP_LAYER = "analytics.api"

# Below the HTTP layer: folders (every module inside, except API modules) and single modules.
LOWER_FOLDERS = ("analytics/queries", "analytics/services", "courses", "config", "accounts")
LOWER_MODULES = ("analytics/definitions.py", "analytics/formats.py", "exports/services.py", "exports/sources.py")


def is_api_module(path):
    relative = path.relative_to(ROOT)
    return "api" in relative.parts[:-1] or relative.name == "api.py"


def lower_modules():
    paths = [ROOT / name for name in LOWER_MODULES]
    for folder in LOWER_FOLDERS:
        paths.extend(path for path in sorted((ROOT / folder).rglob("*.py")) if not is_api_module(path))
    return paths


def module_name(path):
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(source, name, is_package=False):
    """Every module an import statement of `source` (the module `name`) may load: `import a.b`
    gives a.b; `from a import b` gives a and a.b (b may be a module); relative imports resolved."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            found.append(module)
            found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def imports_http_layer(modules):
    return sorted({module for module in modules if module == HTTP_LAYER or module.startswith(HTTP_LAYER + ".")})


@pytest.mark.parametrize("path", lower_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_module_below_the_http_layer_does_not_import_it(path):
    modules = imported_modules(path.read_text(), module_name(path), is_package=path.name == "__init__.py")

    assert imports_http_layer(modules) == []


def test_the_checked_modules_include_each_layer():
    checked = {str(path.relative_to(ROOT)) for path in lower_modules()}

    assert {
        "analytics/queries/bracket_filters.py",
        "analytics/services/records/files.py",
        "config/throttling.py",
        "exports/sources.py",
        "accounts/credentials.py",
    } <= checked
    assert not {"accounts/api.py", "exports/api.py"} & checked


@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [
        (
            "from analytics.api.formats import x",
            "analytics.queries.q",
            ["analytics.api.formats", "analytics.api.formats.x"],
        ),
        ("import analytics.api.envelopes", "config.throttling", ["analytics.api.envelopes"]),
        (
            "def f():\n    from analytics.api import analyse\n",
            "exports.sources",
            ["analytics.api", "analytics.api.analyse"],
        ),
        (
            "from ..api.request_limits import loads_bounded",
            "analytics.services.files",
            ["analytics.api.request_limits", "analytics.api.request_limits.loads_bounded"],
        ),
        ("from .. import api", "analytics.queries.q", ["analytics.api"]),
        ("from analytics.apiary import x", "analytics.queries.q", []),
        ("from analytics.queries import api_rows", "analytics.queries.q", []),
    ],
)
def test_the_check_finds_every_form_of_import(source, name, expected):
    assert imports_http_layer(imported_modules(source, name)) == expected
