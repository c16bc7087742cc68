"""platform/ holds the `config` package but must never be a package itself: it would shadow the
standard library's `platform` module, which uuid, Django, Celery and torch import."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_platform_folder_is_not_a_package():
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_standard_library_platform_is_the_one_imported():
    import platform

    assert Path(platform.__file__).parent == Path(sys.modules["os"].__file__).parent
    assert platform.python_version().startswith("3.")


def test_config_package_imports_from_platform_folder():
    import config

    assert Path(config.__file__).resolve().parent == ROOT / "platform" / "config"
