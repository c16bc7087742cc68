from tests.mos.conftest import rated  # noqa: F401  (a campaign with counted and uncounted ratings)
