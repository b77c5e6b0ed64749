"""Holds the ``sitecustomize.py`` the runner puts first on ``PYTHONPATH`` for child processes."""
