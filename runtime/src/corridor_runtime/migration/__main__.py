"""For maintainers: write a schema's next revision from what its code declares.

    python -m corridor_runtime.migration new profiles "what the revision does"

The revision is compared against a scratch SQLite database at the newest revision; review it (and
its downgrade) before committing, and keep released revisions unchanged.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from . import _config, target_metadata, version_table


def _render_item(type_, obj, autogen_context):
    if type_ == "type" and type(obj).__name__ == "UtcDateTime":
        return "sa.DateTime(timezone=True)"  # revisions do not import the runtime's types
    return False


def new(schema: str, message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        engine = sa.create_engine(f"sqlite:///{Path(scratch) / 'head.sqlite'}")
        with engine.begin() as connection:
            config = _config(schema)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            config.attributes["target_metadata"] = target_metadata(schema)
            config.attributes["render_item"] = _render_item
            head = ScriptDirectory.from_config(config).get_current_head() or "0000"
            script = command.revision(config, message=message, autogenerate=True, rev_id=f"{int(head) + 1:04d}")
        engine.dispose()
    print(f"wrote {script.path if script else '?'} (version table {version_table(schema)})")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "new":
        sys.exit(__doc__)
    new(sys.argv[2], sys.argv[3])
