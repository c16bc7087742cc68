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
