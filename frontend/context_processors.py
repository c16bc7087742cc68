from core.roles import user_roles


def roles(request):
    """`roles` in every template: which navigation a user sees."""
    return {"roles": user_roles(getattr(request, "user", None))}
