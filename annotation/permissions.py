# moved to core: remove once every branch is merged (core/permissions.py)
from core.permissions import IsAdmin, IsAnnotator, IsExpert, IsResearcher, IsStaffRole, role_permission  # noqa: F401
