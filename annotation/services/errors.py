# moved to core: remove once every branch is merged (core/errors.py)
from core.errors import Conflict, Forbidden, Gone, InsufficientStorage, InvalidInput, NotFound, PayloadTooLarge, ServiceError, TooManyRequests  # noqa: F401,E501
