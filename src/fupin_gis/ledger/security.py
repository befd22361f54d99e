"""Row-level security of the ledger, like the layers': a project is seen by the accounts whose
scope holds its township or one of its villages, and so are its lines, payments, notices and the
rest (by the project they belong to). Installed after the layers' functions, on every migrate."""

from __future__ import annotations

from sqlalchemy import Connection, text

FUNCTIONS = """
CREATE OR REPLACE FUNCTION ledger_sees_area(township text, villages text[]) RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT fupin_unrestricted() OR fupin_sees_code(township)
          OR EXISTS (SELECT 1 FROM unnest(villages) v WHERE fupin_sees_code(v)) $$;
CREATE OR REPLACE FUNCTION ledger_sees(project text) RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT fupin_unrestricted() OR EXISTS (
     SELECT 1 FROM ledger_projects p WHERE p.code = project AND ledger_sees_area(p.township_code, p.villages)) $$;
"""

# table -> the condition that admits a row for the transaction's scope
POLICIES = {
    "ledger_events": "project_code IS NULL OR ledger_sees(project_code)",
    "ledger_projects": "ledger_sees_area(township_code, villages)",
    "ledger_project_status": "ledger_sees(project_code)",
    "ledger_project_features": "ledger_sees(project_code)",
    "ledger_budget_lines": "ledger_sees(project_code)",
    "ledger_procurements": "ledger_sees(project_code)",
    "ledger_contracts": "ledger_sees(project_code)",
    "ledger_contract_changes": "EXISTS (SELECT 1 FROM ledger_contracts c WHERE c.id = contract_id)",
    "ledger_progress": "ledger_sees(project_code)",
    "ledger_payments": "ledger_sees(project_code)",
    "ledger_approvals": "EXISTS (SELECT 1 FROM ledger_payments p WHERE p.id = payment_id)",
    "ledger_notices": "ledger_sees(project_code)",
    "ledger_objections": "EXISTS (SELECT 1 FROM ledger_notices n WHERE n.id = notice_id)",
    "ledger_acceptances": "ledger_sees(project_code)",
    "ledger_findings": "ledger_sees(project_code)",
    "ledger_finding_updates": "EXISTS (SELECT 1 FROM ledger_findings f WHERE f.id = finding_id)",
    "ledger_assets": "ledger_sees(project_code)",
}


def installed(conn: Connection) -> bool:
    """True when the ledger's tables exist (its migration has run)."""
    return bool(conn.execute(text("SELECT to_regclass('ledger_events') IS NOT NULL")).scalar_one())


def apply_ledger_security(conn: Connection) -> None:
    """Create the ledger's scope functions and policies (idempotent; nothing before its migration)."""
    if not installed(conn):
        return
    conn.execute(text(FUNCTIONS))
    for table, cond in POLICIES.items():
        conn.execute(text(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
        conn.execute(text(f"DROP POLICY IF EXISTS fupin_scope ON {table}"))
        conn.execute(text(f"CREATE POLICY fupin_scope ON {table} FOR SELECT USING ({cond})"))
