"""The layering rules of docs/architecture.md, read from the code's own imports (every import statement, also the
ones inside functions), so a change that breaks one fails here with the file and the line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Packages that run without Django: the scorer on any GPU box, the diffusers pipelines on generation workers, the
# statistics of aggregation and quality control (pure functions the services call).
DJANGO_FREE = ("training/scorer", "generation/pipelines", "annotation/aggregation", "annotation/qc")
DJANGO_WORLD = (
    "django",
    "rest_framework",
    "drf_spectacular",
    "celery",
    "kombu",
    "config",
    "core",
    "annotation",
    "generation",
    "training",
    "frontend",
)
# What a Django-free package may still import from the project: itself and the other Django-free packages.
ALLOWED_PROJECT = tuple(p.replace("/", ".") for p in DJANGO_FREE)
APPS = ("annotation", "generation", "training", "frontend", "webhooks")
API_VIEWS = [
    *sorted((ROOT / "annotation" / "api").glob("*.py")),
    *sorted((ROOT / "training").glob("api*.py")),
    ROOT / "generation" / "api.py",
    ROOT / "webhooks" / "api.py",
]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file; relative imports resolved against its package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("package", DJANGO_FREE)
def test_the_django_free_packages_import_no_django_and_no_app(package):
    offences = []
    for path in python_files(package):
        for line, module in imports_of(path):
            if _top(module) in DJANGO_WORLD and not module.startswith(ALLOWED_PROJECT):
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert python_files(package), f"{package} has no Python files: the rule checks nothing"
    assert offences == []


def test_aggregation_and_qc_load_without_django_settings():
    """Importing them in a bare interpreter leaves Django unloaded (the scorer's own check is the import scan above:
    loading torch here would cost seconds for the same answer)."""
    code = (
        "import sys, annotation.aggregation, annotation.qc; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'celery')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_core_imports_no_app():
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files("core")
        for line, module in imports_of(path)
        if _top(module) in APPS
    ]
    assert offences == []


@pytest.mark.parametrize("app", ["annotation", "generation", "training"])
def test_models_import_no_services_and_services_no_api(app):
    offences = []
    for path in python_files(app):
        rel = path.relative_to(ROOT).as_posix()
        for line, module in imports_of(path):
            if rel.startswith(f"{app}/models") and ".services" in module:
                offences.append(f"{rel}:{line} (a model) imports {module}")
            if "/services/" in rel and (module.startswith(f"{app}.api") or module.startswith("frontend")):
                offences.append(f"{rel}:{line} (a service) imports {module}")
    assert offences == []


@pytest.mark.parametrize("app", ["annotation", "generation", "training", "webhooks"])
def test_services_never_import_tasks(app):
    """Services enqueue work by the task's name (core/queue.py, the outbox); tasks import services, so a service
    that imported its tasks module would close a loop."""
    offences = []
    for path in python_files(app):
        rel = path.relative_to(ROOT).as_posix()
        if not (rel.startswith(f"{app}/services/") or rel == f"{app}/services.py"):
            continue
        offences += [
            f"{rel}:{line} (a service) imports {module}"
            for line, module in imports_of(path)
            if module == f"{app}.tasks" or module.startswith(f"{app}.tasks.")
        ]
    assert offences == []


def test_api_views_build_no_queries():
    """Reads live in selectors, writes in services: an API module names no model manager."""
    offences = []
    for path in API_VIEWS:
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = text.split("#", 1)[0]
            if ".objects." in code or "get_object_or_404" in code:
                offences.append(f"{path.relative_to(ROOT)}:{number}: {text.strip()}")
    assert len(API_VIEWS) > 8
    assert offences == []


def test_no_api_view_catches_service_errors_itself():
    """One exception handler answers every API error (core/api/exception_handler.py): no decorator, no hand-made
    {"detail"} answer for an error, no hand-joined serializer errors."""
    offences = []
    for path in API_VIEWS:
        text = path.read_text(encoding="utf-8")
        for marker in ("@service_errors", 'Response({"detail"', ".errors.items()"):
            if marker in text:
                offences.append(f"{path.relative_to(ROOT)}: {marker}")
    assert offences == []


@pytest.mark.parametrize("app", ["annotation", "generation", "training"])
def test_apps_below_reach_webhooks_and_frontend_only_through_settings(app):
    """Events reach the webhooks app through core/events.py (QEVAL_EVENT_RECEIVERS), never an import."""
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files(app)
        for line, module in imports_of(path)
        if _top(module) in ("webhooks", "frontend")
    ]
    assert offences == []
