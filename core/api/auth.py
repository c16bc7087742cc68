"""Token and session authentication for the API: DRF's TokenAuthentication and SessionAuthentication (same
headers and cookies, same answers, DRF's CSRF check), with the user and their roles read in one prepared
query on PostgreSQL instead of two ORM queries per request (three for a session: the session row, the user,
the roles). A session's data is signed and encoded: what it decoded to is kept per process while the row
holds the same data, and the query that reads the row reads that user beside it.

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

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model, load_backend
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.utils import timezone
from django.utils.crypto import constant_time_compare
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


_DB_SESSIONS = "django.contrib.sessions.backends.db"


def session_user(request):
    """The logged-in user of a database session (with their roles), as `django.contrib.auth.get_user` finds
    them, in one prepared query, when nothing about the session needs Django's own handling (a hash under an
    old secret to rotate, a stale session to flush, another session engine or backend); else None, and the
    caller lets Django's own lookup answer. No CSRF check here: the caller makes DRF's."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not key or not key.isascii() or not key.isalnum() or len(key) > 40 or settings.SESSION_ENGINE != _DB_SESSIONS:
        return None  # not a key Django makes (a NUL in a quoted cookie would be a database error): Django's path
    known = _DECODED.get(key)
    # the session row and (when this process has decoded the session before) its user, in one query
    found = session_with_user(key, timezone.now(), known[1] if known else 0)
    if found is None:
        _DECODED.pop(key, None)
        return None
    data, user = found
    if known is None or known[0] != data:
        decoded = _decode(request, data)
        if decoded is None:
            return None
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        if known is None or known[1] != decoded[0]:
            user = user_by_pk(decoded[0])  # the first request of this session in this process
        known = _DECODED[key] = (data, *decoded)
    if user is None or not user.is_active:
        return None
    if not constant_time_compare(known[2], user.get_session_auth_hash()):
        return None
    return user


# What each session's data decoded to, by session key: (data, user pk, session auth hash). Decoding is a function
# of the data alone (and the secret key), so an entry serves only while the row holds the same string; the
# user, their roles and is_active are read afresh at every request. Bounded: emptied when full.
_DECODED: dict[str, tuple[str, int, str]] = {}
_DECODED_MAX = 10_000


def _decode(request, data: str) -> tuple[int, str] | None:
    """(user pk, session auth hash) of a session's data logged in through a ModelBackend, else None."""
    session = request.session.decode(data)  # signed; {} when tampered with
    backend_path = session.get(BACKEND_SESSION_KEY)
    if backend_path not in settings.AUTHENTICATION_BACKENDS or not _model_backend(backend_path):
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    try:
        pk = int(str(session.get(SESSION_KEY)))
    except ValueError:
        return None
    return (pk, session_hash) if session_hash else None


@cache
def _model_backend(path: str) -> bool:
    """Whether the backend finds a session's user as ModelBackend does (by primary key, active users only)."""
    backend = load_backend(path)
    return (
        getattr(type(backend), "get_user", None) is ModelBackend.get_user
        and getattr(type(backend), "user_can_authenticate", None) is ModelBackend.user_can_authenticate
    )


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication (the browser's: the rating page, the research and desk pages' calls), with
    the session, the user and their roles in one prepared query on PostgreSQL (`session_user`) instead of
    the three ORM queries of Django's lazy `request.user`; any session it does not take (see there) goes
    through DRF's own path, unchanged. The CSRF check is DRF's."""

    def authenticate(self, request):
        user = session_user(request._request) if fast_sql_enabled() else None
        if user is None:
            return super().authenticate(request)
        self.enforce_csrf(request)
        # as when Django's lazy request.user reads the session: the answer varies with the cookie (Vary: Cookie)
        request._request.session.accessed = True
        return (user, None)


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
