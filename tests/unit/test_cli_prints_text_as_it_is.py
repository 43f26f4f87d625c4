"""Operator commands print names, reasons and patterns as they are: text such as `[a-z]` or `[b]`
is not taken for rich markup and swallowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORRIDOR = Path(sys.executable).parent / "corridor"


def corridor(*args: str, stdin: str = ""):
    return subprocess.run([str(CORRIDOR), *args], input=stdin, capture_output=True, text=True, timeout=60, check=False,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_account_names_and_refused_roles_are_printed_literally(tmp_path):
    where = ["--data-dir", str(tmp_path), "--node", "fr"]
    added = corridor("users", "add", "[b]amina[/b]", "--role", "operator", "--password-stdin", *where,
                     stdin="a long enough password\n")
    assert added.returncode == 0, added.stdout + added.stderr
    assert "account [b]amina[/b] added" in added.stdout, added.stdout
    listed = corridor("users", "list", *where)
    assert "[b]amina[/b]" in listed.stdout, listed.stdout
    refused = corridor("users", "add", "fatou", "--role", "[red]boss", "--password-stdin", *where, stdin="another password\n")
    assert refused.returncode == 2 and "unknown role '[red]boss'" in refused.stdout, refused.stdout


def test_a_refused_node_config_shows_the_node_id_pattern(tmp_path):
    (tmp_path / "fr.toml").write_text('node_id = "Fr"\ndata_dir = "var"\nregistry_file = "corridor.yaml"\n')
    done = corridor("up", "--check", "--config", str(tmp_path / "fr.toml"))
    assert done.returncode == 2 and "node_id: String should match pattern '^[a-z][a-z0-9]{1,15}$'" in done.stdout, done.stdout
