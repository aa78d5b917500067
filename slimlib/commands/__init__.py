"""CLI commands, one module each (see slimlib/cli.py)."""
