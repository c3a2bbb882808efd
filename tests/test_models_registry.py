"""`avtaleflyt.models` loads a table's module when one of its names is imported (a read-only
command builds only the tables it reads). Whatever is imported first, the tables its foreign
keys point to must be there too, or the ORM cannot order a flush; and `load_all()` must
register every table the migrations create (test_migrations compares the two)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from avtaleflyt import models

_PROBE = """
import json, sys
from sqlmodel import SQLModel
from avtaleflyt import models
getattr(models, sys.argv[1])
missing = []
for table in SQLModel.metadata.tables.values():
    for fk in table.foreign_keys:
        try:
            fk.column
        except Exception as e:
            missing.append(f"{table.name}.{fk.parent.name} -> {fk.target_fullname}: {e}")
print(json.dumps({"tables": sorted(SQLModel.metadata.tables), "missing": missing}))
"""


@pytest.mark.parametrize("module", sorted(m for m in models._MODULES if m != "types"))
def test_a_table_comes_with_the_tables_its_foreign_keys_point_to(module):
    name = models._MODULES[module][0][0]
    done = subprocess.run([sys.executable, "-c", _PROBE, name], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["missing"] == []
    assert found["tables"], f"importing {name} registered no table"


def test_status_builds_only_the_tables_it_reads(tmp_path):
    """The status command's start-up is mostly imports; the outbox, documents and meetings
    are not among what it reads. (Users are built: a task may be assigned to one, and the
    ORM needs the table a foreign key points to.)"""
    script = ("import json, sys\nfrom avtaleflyt.cli.main import main\n"
              "sys.argv = ['avtaleflyt', 'status', '--json']\ntry:\n    main()\n"
              "except SystemExit:\n    pass\nprint(json.dumps({'models': sorted(m for m in "
              "sys.modules if m.startswith('avtaleflyt.models.')), 'babel': 'babel' in "
              "sys.modules}), file=sys.stderr)")
    env = {"PATH": "/usr/bin:/bin", "AVTALEFLYT_DATA_DIR": str(tmp_path),
           "AVTALEFLYT_TODAY": "2026-06-02"}
    init = subprocess.run([sys.executable, "-m", "avtaleflyt", "init"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []  # no case yet: an empty list
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    assert loaded == {"models": ["avtaleflyt.models.case", "avtaleflyt.models.reference",
                                 "avtaleflyt.models.types", "avtaleflyt.models.user"],
                      "babel": False}
