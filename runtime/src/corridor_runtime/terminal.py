"""The console the operator commands print to."""

from __future__ import annotations

import os
import sys

from rich.console import Console

PIPE_WIDTH = 200


def operator_console() -> Console:
    """A terminal's own width; when the output goes to a file or a pipe (a log, `| less`, a CI job),
    a wide one, so tables are not cut at 80 columns. COLUMNS, if set, wins."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=PIPE_WIDTH)
