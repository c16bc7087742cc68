# The shared browser fixtures (tests/conftest.py imports them too; importing here keeps this folder
# runnable on its own while the shared line lands).
from tests.browser import browser, page  # noqa: F401
