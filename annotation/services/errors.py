# moved to core: remove once every branch is merged (core/errors.py)
from core.errors import (  # noqa: F401,E501
    Conflict,
    Forbidden,
    Gone,
    InsufficientStorage,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    TooManyRequests,
)
