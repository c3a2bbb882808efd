"""documents in the database: `document_blob` keyed by SHA-256, the files moved into it

Revision ID: 0010
Revises: 0009
Create Date: 2027-02-01

Every dashboard node (and the CLI) must serve every stored version, so the bytes move from
`<data dir>/documents/<path>` into `document_blob`, stored once per SHA-256; `document.sha256`
becomes a foreign key to it and `document.path` stays as the version's name.

Every file is read and its SHA-256 checked against its row BEFORE anything is changed: a
missing, unreadable or changed file refuses the migration with a message naming each file,
and the database is left exactly as it was. The files are not deleted here (a migration
cannot take back a deleted file if its transaction fails); `db.upgrade` deletes those whose
content is now in the database after the migration has committed.

Downgrading writes every version back as its file and drops the table.
"""
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
import hashlib

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_document_sha256_document_blob"


def _documents_dir() -> Path:
    """Given by the caller (`db.upgrade(..., documents_dir=)`), else the installation's."""
    given = op.get_context().config.attributes.get("documents_dir")
    if given is not None:
        return Path(given)
    from avtaleflyt import runtime

    return runtime.settings().data_dir / "documents"


def _read_files(rows) -> dict[str, bytes]:
    from avtaleflyt.domain.errors import Conflict

    root = _documents_dir()
    contents: dict[str, bytes] = {}
    problems: list[str] = []
    for _id, path, expected in rows:
        file = root / path
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            problems.append(f"«{file}» mangler.")
            continue
        except OSError as e:
            problems.append(f"«{file}» kan ikke leses ({e.strerror}).")
            continue
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            problems.append(f"«{file}» er endret etter at den ble lagret (SHA-256 "
                            f"{actual[:12]}…, databasen venter {expected[:12]}…).")
            continue
        contents[actual] = data
    if problems:
        raise Conflict(
            "Kan ikke flytte dokumentene inn i databasen (migrering 0010); ingenting er "
            "endret.\n" + "\n".join(problems) + "\nLegg tilbake de opprinnelige filene (for "
            "eksempel fra sikkerhetskopien) og kjør «avtaleflyt init» på nytt.")
    return contents


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, path, sha256 FROM document ORDER BY id")).all()
    contents = _read_files(rows) if rows else {}
    blob = op.create_table(
        "document_blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    now = datetime.now(timezone.utc)
    for digest, data in contents.items():  # one at a time: documents can be large
        op.bulk_insert(blob, [{"sha256": digest, "size": len(data), "content": data,
                               "created_at": now}])
    with op.batch_alter_table("document") as batch_op:
        batch_op.create_index("ix_document_sha256", ["sha256"], unique=False)
        batch_op.create_foreign_key(FK, "document_blob", ["sha256"], ["sha256"])


def downgrade() -> None:
    from avtaleflyt.filemodes import private_dir

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT d.path, b.content FROM document d JOIN document_blob b ON b.sha256 = d.sha256"
        " ORDER BY d.id")).all()
    if rows:
        root = _documents_dir()
        for path, content in rows:
            file = root / path
            private_dir(root)
            private_dir(file.parent)
            from avtaleflyt.services.document_store import replace_file

            replace_file(file, bytes(content))
    with op.batch_alter_table("document") as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.drop_index("ix_document_sha256")
    op.drop_table("document_blob")
