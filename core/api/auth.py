"""Token authentication for the API: DRF's TokenAuthentication (same header, same answers), with the user
and their roles read in one prepared query on PostgreSQL instead of two ORM queries per request.

Where the per-token work is saved, and why nothing is kept between requests: the expensive part of DRF's
lookup is the ORM (compiling the token + user query, building both models, then a second query for the
roles: ~1.3 ms of CPU a request), not the database (~0.05 ms for the same rows raw). A per-process cache of
token -> user would save that 0.05 ms only by giving up correctness, since a token deleted or rotated, a
user switched off or a role taken away in another process (the admin pages, a command, another gunicorn
worker) could not reach it at once without a round trip of its own. So the cached part is the statement
(prepared once per connection, core/sql.py) and each request checks the token, `is_active` and the roles
as they are now: every change takes effect on the next request, in every process.

The roles land on the user as `_qeval_roles` (core/roles.py reads it), so the permission check that
follows costs no query either. On SQLite, or with QEVAL_SQL_FAST_PATH=false, DRF's own lookup runs.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from ..roles import ROLES
from ..sql import fast_sql_enabled, sql_row


@cache
def _lookup(by: str = "token") -> tuple[str, list[str]]:
    """The statement finding a user with their roles by token key (`by="token"`, the token's `created` first),
    by primary key (`by="pk"`), or a live session's data with the user of a given primary key beside it
    (`by="session"`, the session's data first; the user's columns NULL when there is no such user), and the
    user model's field names; built once (the user model is known after setup)."""
    User = get_user_model()
    fields = list(User._meta.concrete_fields)
    through = User.groups.through._meta.db_table
    user_fk = User._meta.get_field("groups").m2m_column_name()
    group_fk = User._meta.get_field("groups").m2m_reverse_name()
    pk = User._meta.pk.column
    first, source = {
        "token": (
            "t.created",
            f"{Token._meta.db_table} t JOIN {User._meta.db_table} u ON u.{pk} = t.user_id WHERE t.key = %(key)s::text",
        ),
        "pk": ("NULL", f"{User._meta.db_table} u WHERE u.{pk} = %(pk)s::bigint"),
        "session": (
            "s.session_data",
            f"{Session._meta.db_table} s LEFT JOIN {User._meta.db_table} u ON u.{pk} = %(pk)s::bigint"
            " WHERE s.session_key = %(key)s::text AND s.expire_date > %(now)s::timestamptz",
        ),
    }[by]
    sql = f"""
        SELECT {first}, {", ".join(f"u.{f.column}" for f in fields)},
               ARRAY(SELECT g.name FROM {through} ug JOIN {Group._meta.db_table} g ON g.id = ug.{group_fk}
                      WHERE ug.{user_fk} = u.{pk} AND g.name = ANY(%(roles)s::text[]))
          FROM {source}"""
    return sql, [f.attname for f in fields]


def _user_from_row(row):
    """The user of a `_lookup` row with their roles attached, and the row's first column."""
    first, values, roles = row[0], row[1:-1], row[-1]
    user = get_user_model().from_db("default", _lookup()[1], values)
    user._qeval_roles = set(roles)  # type: ignore[attr-defined]  # core.roles.user_roles reads it
    return user, first


def session_with_user(key: str, now, pk: int) -> tuple[str, Any | None] | None:
    """The data of the live session `key` and, in the same prepared query, the user with primary key `pk`
    (the one its data named last time; None when there is no such user) with their roles; None when no live
    session has this key (the expiry compared with `now`, as Django's database sessions do)."""
    row = sql_row(_lookup("session")[0], {"key": key, "now": now, "pk": pk, "roles": list(ROLES)})
    if row is None:
        return None
    user = _user_from_row(row)[0]
    return row[0], (user if user.pk is not None else None)


def user_by_pk(pk) -> Any | None:
    """The user with this primary key and their roles, in one prepared query (PostgreSQL only), or None."""
    row = sql_row(_lookup("pk")[0], {"pk": pk, "roles": list(ROLES)})
    return None if row is None else _user_from_row(row)[0]


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's; one prepared query on PostgreSQL (see the module docstring)."""

    def authenticate_credentials(self, key):
        if "\x00" in key:  # no token has one; PostgreSQL refuses it in a text parameter (an error, not a 401)
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not fast_sql_enabled():
            user, token = super().authenticate_credentials(key)
            return user, token
        row = sql_row(_lookup()[0], {"key": key, "roles": list(ROLES)})
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user, created = _user_from_row(row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db("default", ["key", "user_id", "created"], [key, user.pk, created])
        token.user = user
        return user, token
