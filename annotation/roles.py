# moved to core: remove once every branch is merged (core/roles.py)
from core.roles import (  # noqa: F401,E501
    ABOVE_ANNOTATOR,
    ADMIN,
    ANNOTATOR,
    EXPERT,
    RESEARCHER,
    ROLE_PERMISSIONS,
    ROLES,
    roles_sync,
    user_has_role,
    user_roles,
)
