"""Errors services raise for bad input. Each carries a message a person can act on and its HTTP status:
the API's exception handler (core/api/exception_handler.py) answers {"detail": message} with that status,
the command line (core/management/base.py) exits 1 with that one line, and jobs record it as their error."""


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(ServiceError):
    status_code = 400


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class Gone(ServiceError):
    status_code = 410


class Forbidden(ServiceError):
    status_code = 403


class TooManyRequests(ServiceError):
    """A quota is used up (jobs running per user); the message says which and when to try again."""

    status_code = 429


class InsufficientStorage(ServiceError):
    """The disk a job would write to has too little free space (507)."""

    status_code = 507


class PayloadTooLarge(ServiceError):
    status_code = 413


# What a person is told when the database refused a value of theirs (django.db.DataError): PostgreSQL stores no
# NUL character in text and no integer past its column's range. The API answers it 400, a job records it as its
# error and a command prints it; the readers of import files name the line where they can.
DATA_ERROR_REASON = (
    "a value cannot be stored (a NUL character in text, or a number out of range): remove it and try again"
)


NUL_IN_ROW = "a NUL character (\\0) in the row: text cannot hold one (a file saved from a binary format?)"


def contains_nul(value) -> bool:
    """Whether a NUL character is anywhere in `value` (text, or lists and dicts of it, keys too)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(contains_nul(v) for v in value)
    return False
