"""Package data files (see README.md beside this file)."""
