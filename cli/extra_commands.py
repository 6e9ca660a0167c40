"""Imports every command module, so each registers its commands on the app.

One line per module: add yours here.
"""
from cli import metrics  # noqa: F401
from cli import generate  # noqa: F401
from cli import report  # noqa: F401
from cli import audit  # noqa: F401
