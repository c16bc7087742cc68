"""The base of every management command: service errors become exit code 1 and one line on stderr, input
files are read as UTF-8 with one line saying why they cannot be, and long work draws a progress bar on stderr.

Commands that run a dataset job (annotation.Job) use annotation/management/job_command.py's JobCommand, built
on this."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DataError
from tqdm import tqdm

from ..errors import DATA_ERROR_REASON, InvalidInput, ServiceError


class ServiceCommand(BaseCommand):
    """A command whose service errors become exit code 1 and one line on stderr."""

    @staticmethod
    def read_utf8(path: str) -> str:
        """The text of a UTF-8 input file, or one line saying why it cannot be read."""
        try:
            return Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{path} is not UTF-8 text (byte {exc.start} is not): give a text file") from None
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        except DataError:  # a value from the input the database cannot store; nothing was written
            raise CommandError(DATA_ERROR_REASON) from None

    def progress_bar(self, *, desc: str, unit: str = "it", total: int = 0) -> tqdm:
        """A progress bar on the command's stderr (stdout stays for results, e.g. the id a script reads)."""
        return tqdm(total=total, desc=desc, unit=unit, file=self.stderr._out, dynamic_ncols=True)


__all__ = ["CommandError", "ServiceCommand"]
