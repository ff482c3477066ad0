"""Subcommands of the ``unrender`` CLI (see :mod:`unrender.cli`)."""
