#!/usr/bin/env python
"""Django's command-line utility. `platform/` holds the `config` package but is itself a plain folder
(never a package: it would shadow the standard library's `platform`), so it goes on the path here."""

import os
import sys
from pathlib import Path


def main() -> None:
    root = Path(__file__).resolve().parent
    sys.path.insert(1, str(root / "platform"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
