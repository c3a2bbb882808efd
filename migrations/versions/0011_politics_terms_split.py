"""the political process and agreement terms: saksgang, months and renewal, a split per case

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-29

- `saksgang`: a municipality's own saksgang (the bodies that treat the case, in order).
- `agreement_terms.months` (a term in months beside years: a 4-month pilot) and
  `agreement_terms.renewal` ("none": fixed term; "auto": renewed unless notice is given).
  Existing agreements get 0 months and "none", which is what the engine did for them.
- `case_split_row`: each case's own responsibility split (grenseoppgang). Existing cases
  get a copy of their agreement's split when terms are set, else of the built-in default
  the engine used until now, so no case is without one.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The split every agreement had before 0011 (domain/agreement.py DEFAULT_SPLIT, frozen here
# so the migration does not change when the code does).
_DEFAULT = [(t, "county") for t in (
    "Bibliotekplan og strategi", "Retningslinjer for samlingsutvikling",
    "Statistikk og årsmelding", "Forslag til budsjett for biblioteket",
    "Faglig veiledning av lokalt ansatte", "Samarbeid med skolebibliotek og fylkeskommunen",
)] + [(t, "municipality") for t in (
    "Arbeidsgiveransvar for lokalt ansatte", "Åpningstider", "Lokaler",
    "Budsjettvedtak for biblioteket",
    "Tilgang til systemer (bibliotekssystem, e-post, arkiv, økonomi/HR)",
    "Egne politiske vedtak",
)]


def upgrade() -> None:
    op.create_table(
        "saksgang",
        sa.Column("municipality_id", sa.Integer(), sa.ForeignKey("municipality.id"),
                  primary_key=True),
        sa.Column("bodies", sa.String(length=100), nullable=False),
    )
    with op.batch_alter_table("agreement_terms") as batch_op:
        batch_op.add_column(sa.Column("months", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("renewal", sa.String(length=8), nullable=False,
                                      server_default="none"))
    op.create_table(
        "case_split_row",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("onboarding_case.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=300), nullable=False),
        sa.Column("responsible", sa.String(length=16), nullable=False),
        sa.UniqueConstraint("case_id", "position", name="uq_case_split_order"),
    )
    op.create_index("ix_case_split_row_case_id", "case_split_row", ["case_id"])
    bind = op.get_bind()
    split_table = sa.table("case_split_row", sa.column("case_id", sa.Integer),
                           sa.column("position", sa.Integer), sa.column("task", sa.String),
                           sa.column("responsible", sa.String))
    from_terms: dict[int, list[tuple[str, str]]] = {}
    for case_id, task, who in bind.execute(sa.text(
            "SELECT t.case_id, r.task, r.responsible FROM responsibility_item r "
            "JOIN agreement_terms t ON t.id = r.terms_id ORDER BY t.case_id, r.position")):
        from_terms.setdefault(case_id, []).append((task, who))
    rows = []
    for (case_id,) in bind.execute(sa.text("SELECT id FROM onboarding_case ORDER BY id")):
        for i, (task, who) in enumerate(from_terms.get(case_id) or _DEFAULT):
            rows.append({"case_id": case_id, "position": i, "task": task, "responsible": who})
    if rows:
        op.bulk_insert(split_table, rows)


def downgrade() -> None:
    op.drop_index("ix_case_split_row_case_id", table_name="case_split_row")
    op.drop_table("case_split_row")
    if op.get_bind().dialect.name == "sqlite":
        # Batch mode would copy and drop the table, which `responsibility_item` refers to:
        # refused with foreign keys on. SQLite 3.35+ drops a plain column in place.
        op.execute("ALTER TABLE agreement_terms DROP COLUMN renewal")
        op.execute("ALTER TABLE agreement_terms DROP COLUMN months")
    else:
        op.drop_column("agreement_terms", "renewal")
        op.drop_column("agreement_terms", "months")
    op.drop_table("saksgang")
