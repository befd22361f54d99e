"""The project ledger: programmes, tranches, projects (revisions), budget lines, procurement,
contracts, progress, payments and their approvals, notices, acceptance, findings, assets, and the
append-only event log every change of them is recorded in; the finance and auditor roles.

Money is ``numeric(14,2)`` yuan. Every ledger table refuses UPDATE and DELETE (a correction is a
reversal row and a reversal event); a payment's approver is never its requester, and one person
approves at most one step of a payment (triggers, so no path around the core can break it).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import context, op

from fupin_gis.catalog import load_catalog
from fupin_gis.settings import Settings

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

MONEY = "numeric(14,2)"

TABLES = f"""
CREATE TABLE ledger_events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    project_code text,
    entity text,
    entity_id bigint,
    reason text,
    payload jsonb NOT NULL DEFAULT '{{}}',
    rules_version text,
    checks jsonb NOT NULL DEFAULT '[]',
    reverses bigint REFERENCES ledger_events (id)
);
COMMENT ON TABLE ledger_events IS '项目资金事件（只增不改）';
CREATE INDEX ix_ledger_events_project ON ledger_events (project_code, id);

CREATE TABLE ledger_programmes (
    code text PRIMARY KEY,
    name text NOT NULL,
    start_year integer NOT NULL,
    end_year integer NOT NULL CHECK (end_year >= start_year),
    total_yuan {MONEY} NOT NULL CHECK (total_yuan >= 0),
    planning_area text,
    source text,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);
COMMENT ON TABLE ledger_programmes IS '规划';

CREATE TABLE ledger_programme_targets (
    programme text NOT NULL REFERENCES ledger_programmes (code),
    category text NOT NULL,
    amount_yuan {MONEY} NOT NULL CHECK (amount_yuan >= 0),
    share numeric(6,4),
    PRIMARY KEY (programme, category),
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);
COMMENT ON TABLE ledger_programme_targets IS '规划分类资金';

CREATE TABLE ledger_tranches (
    code text PRIMARY KEY,
    programme text NOT NULL REFERENCES ledger_programmes (code),
    year integer NOT NULL,
    label text NOT NULL,
    approval_ref text,
    villages text[] NOT NULL DEFAULT '{{}}',
    derived boolean NOT NULL DEFAULT false,
    note text,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);
COMMENT ON TABLE ledger_tranches IS '年度计划';

CREATE TABLE ledger_projects (
    code text NOT NULL,
    revision integer NOT NULL,
    parent_code text,
    programme text REFERENCES ledger_programmes (code),
    tranche text REFERENCES ledger_tranches (code),
    name text NOT NULL,
    category text,
    subtype text,
    nature text,
    township_code text,
    villages text[] NOT NULL DEFAULT '{{}}',
    content text,
    quantity numeric(14,3),
    unit text,
    flags text[] NOT NULL DEFAULT '{{}}',
    department text,
    implementer text,
    responsible text,
    start_planned date,
    end_planned date,
    indicators jsonb NOT NULL DEFAULT '[]',
    benefit_mechanism text,
    beneficiaries jsonb NOT NULL DEFAULT '{{}}',
    total_yuan {MONEY} NOT NULL DEFAULT 0 CHECK (total_yuan >= 0),
    entered_on date,
    derived boolean NOT NULL DEFAULT false,
    source_run bigint,
    event_id bigint NOT NULL REFERENCES ledger_events (id),
    PRIMARY KEY (code, revision)
);
COMMENT ON TABLE ledger_projects IS '项目库（每次修改一行）';
CREATE INDEX ix_ledger_projects_parent ON ledger_projects (parent_code);

CREATE TABLE ledger_project_status (
    id bigserial PRIMARY KEY,
    project_code text NOT NULL,
    status text NOT NULL CHECK (status IN
        ('draft', 'library', 'implementing', 'accepted', 'handed_over', 'closed', 'cancelled')),
    on_date date NOT NULL,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);
CREATE INDEX ix_ledger_project_status ON ledger_project_status (project_code, id);

CREATE TABLE ledger_project_features (
    id bigserial PRIMARY KEY,
    project_code text NOT NULL,
    layer text NOT NULL,
    feature_id bigint NOT NULL,
    role text NOT NULL CHECK (role IN ('planned', 'as_built', 'served')),
    linked boolean NOT NULL DEFAULT true,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);
CREATE INDEX ix_ledger_project_features ON ledger_project_features (project_code);

CREATE TABLE ledger_budget_lines (
    id bigserial PRIMARY KEY,
    project_code text NOT NULL,
    source text NOT NULL,
    year integer NOT NULL,
    amount_yuan {MONEY} NOT NULL CHECK (amount_yuan <> 0),
    derived boolean NOT NULL DEFAULT false,
    note text,
    reverses bigint REFERENCES ledger_budget_lines (id),
    CHECK ((reverses IS NULL) = (amount_yuan > 0)),
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);
CREATE INDEX ix_ledger_budget_lines ON ledger_budget_lines (project_code);

CREATE TABLE ledger_procurements (
    id bigserial PRIMARY KEY,
    project_code text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('works', 'goods', 'services')),
    method text NOT NULL,
    estimate_yuan {MONEY} NOT NULL CHECK (estimate_yuan >= 0),
    announced_on date NOT NULL,
    awarded_on date,
    winner text,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);

CREATE TABLE ledger_contracts (
    id bigserial PRIMARY KEY,
    code text NOT NULL UNIQUE,
    project_code text NOT NULL,
    procurement_id bigint REFERENCES ledger_procurements (id),
    contractor text NOT NULL,
    value_yuan {MONEY} NOT NULL CHECK (value_yuan > 0),
    advance_share numeric(5,4) NOT NULL CHECK (advance_share BETWEEN 0 AND 1),
    retention_share numeric(5,4) NOT NULL CHECK (retention_share BETWEEN 0 AND 1),
    signed_on date NOT NULL,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);

CREATE TABLE ledger_contract_changes (
    id bigserial PRIMARY KEY,
    contract_id bigint NOT NULL REFERENCES ledger_contracts (id),
    delta_yuan {MONEY} NOT NULL,
    approval_ref text NOT NULL,
    approved_by text NOT NULL,
    on_date date NOT NULL,
    reason text NOT NULL,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);

CREATE TABLE ledger_progress (
    id bigserial PRIMARY KEY,
    project_code text NOT NULL,
    reported_on date NOT NULL,
    measured jsonb NOT NULL DEFAULT '{{}}',
    measured_pct numeric(5,1),
    certified_pct numeric(5,1) NOT NULL CHECK (certified_pct BETWEEN 0 AND 100),
    override_reason text,
    certifier text,
    photos geometry(MultiPoint, {{srid}}),
    reporter text NOT NULL,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);
CREATE INDEX ix_ledger_progress ON ledger_progress (project_code, id);

CREATE TABLE ledger_payments (
    id bigserial PRIMARY KEY,
    project_code text NOT NULL,
    contract_id bigint REFERENCES ledger_contracts (id),
    line_id bigint NOT NULL REFERENCES ledger_budget_lines (id),
    kind text NOT NULL CHECK (kind IN ('advance', 'progress', 'final', 'retention', 'direct')),
    amount_yuan {MONEY} NOT NULL CHECK (amount_yuan <> 0),
    voucher text,
    evidence jsonb NOT NULL DEFAULT '{{}}',
    requested_by text NOT NULL,
    requested_on date NOT NULL,
    reverses bigint REFERENCES ledger_payments (id),
    CHECK ((reverses IS NULL) = (amount_yuan > 0)),
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);
CREATE INDEX ix_ledger_payments ON ledger_payments (project_code);

CREATE TABLE ledger_approvals (
    id bigserial PRIMARY KEY,
    payment_id bigint NOT NULL REFERENCES ledger_payments (id),
    step text NOT NULL,
    decision text NOT NULL CHECK (decision IN ('approve', 'reject')),
    approved_by text NOT NULL,
    role text NOT NULL,
    on_date date NOT NULL,
    note text,
    event_id bigint NOT NULL REFERENCES ledger_events (id),
    UNIQUE (payment_id, step),
    UNIQUE (payment_id, approved_by)
);

CREATE TABLE ledger_notices (
    id bigserial PRIMARY KEY,
    project_code text NOT NULL,
    kind text NOT NULL,
    level text NOT NULL,
    channel text NOT NULL,
    start_on date NOT NULL,
    end_on date NOT NULL CHECK (end_on >= start_on),
    day_unit text NOT NULL CHECK (day_unit IN ('calendar', 'working')),
    days integer NOT NULL,
    villages text[] NOT NULL DEFAULT '{{}}',
    content jsonb NOT NULL,
    content_sha256 text NOT NULL,
    pdf bytea,
    pdf_sha256 text,
    CHECK ((pdf IS NULL) = (pdf_sha256 IS NULL)),
    posted_by text NOT NULL,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);
CREATE INDEX ix_ledger_notices ON ledger_notices (project_code);
CREATE INDEX ix_ledger_notices_villages ON ledger_notices USING gin (villages);

CREATE TABLE ledger_objections (
    id bigserial PRIMARY KEY,
    notice_id bigint NOT NULL REFERENCES ledger_notices (id),
    received_on date NOT NULL,
    summary text NOT NULL,
    resolution text,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);

CREATE TABLE ledger_acceptances (
    id bigserial PRIMARY KEY,
    project_code text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('completion', 'annual', 'final')),
    accepted_on date NOT NULL,
    team text[] NOT NULL,
    verified jsonb NOT NULL DEFAULT '{{}}',
    result text NOT NULL CHECK (result IN ('pass', 'fail', 'rectify')),
    rectify_by date,
    effects jsonb NOT NULL DEFAULT '{{}}',
    run_before bigint,
    run_after bigint,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);

CREATE TABLE ledger_findings (
    id bigserial PRIMARY KEY,
    project_code text NOT NULL,
    kind text NOT NULL,
    amount_yuan {MONEY},
    found_on date NOT NULL,
    due_on date,
    description text NOT NULL,
    found_by text NOT NULL,
    defect boolean NOT NULL DEFAULT false,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);

CREATE TABLE ledger_finding_updates (
    id bigserial PRIMARY KEY,
    finding_id bigint NOT NULL REFERENCES ledger_findings (id),
    status text NOT NULL CHECK (status IN ('open', 'rectifying', 'resolved')),
    on_date date NOT NULL,
    note text,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);

CREATE TABLE ledger_assets (
    id bigserial PRIMARY KEY,
    project_code text NOT NULL,
    layer text NOT NULL,
    feature_id bigint NOT NULL,
    asset_class text NOT NULL CHECK (asset_class IN ('operating', 'public_welfare', 'household')),
    owner text NOT NULL,
    owner_level text NOT NULL CHECK (owner_level IN ('county', 'township', 'village', 'household', 'other')),
    confirmed_on date,
    certificate text,
    maintainer_unit text NOT NULL,
    maintainer_person text NOT NULL,
    value_yuan {MONEY} NOT NULL CHECK (value_yuan >= 0),
    value_by_source jsonb NOT NULL DEFAULT '{{}}',
    status text NOT NULL DEFAULT 'in_use',
    handed_on date NOT NULL,
    batch_id bigint,
    village_code text,
    event_id bigint NOT NULL REFERENCES ledger_events (id)
);
CREATE INDEX ix_ledger_assets ON ledger_assets (project_code);

CREATE VIEW ledger_projects_now WITH (security_invoker = true) AS
SELECT p.*, s.status, s.on_date AS status_on
FROM (SELECT DISTINCT ON (code) * FROM ledger_projects ORDER BY code, revision DESC) p
LEFT JOIN LATERAL (
    SELECT status, on_date FROM ledger_project_status x WHERE x.project_code = p.code ORDER BY x.id DESC LIMIT 1
) s ON true;
"""

LEDGER_TABLES = [
    "ledger_events",
    "ledger_programmes",
    "ledger_programme_targets",
    "ledger_tranches",
    "ledger_projects",
    "ledger_project_status",
    "ledger_project_features",
    "ledger_budget_lines",
    "ledger_procurements",
    "ledger_contracts",
    "ledger_contract_changes",
    "ledger_progress",
    "ledger_payments",
    "ledger_approvals",
    "ledger_notices",
    "ledger_objections",
    "ledger_acceptances",
    "ledger_findings",
    "ledger_finding_updates",
    "ledger_assets",
]

TRIGGERS = """
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION '% is append-only: record a reversal instead', TG_TABLE_NAME; END $$;

-- Separation of duties, in the database: the requester of a payment never approves it, and the
-- approver is the account the transaction runs for (fupin.user, set by the ledger's core).
CREATE OR REPLACE FUNCTION ledger_check_approval() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE requester text; acting text := nullif(current_setting('fupin.user', true), '');
BEGIN
    SELECT requested_by INTO requester FROM ledger_payments WHERE id = NEW.payment_id;
    IF requester = NEW.approved_by THEN
        RAISE EXCEPTION 'separation of duties: % requested payment % and cannot approve it', requester, NEW.payment_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF acting IS NOT NULL AND acting <> NEW.approved_by THEN
        RAISE EXCEPTION 'separation of duties: % cannot approve in the name of %', acting, NEW.approved_by
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_approvals_duties BEFORE INSERT ON ledger_approvals
FOR EACH ROW EXECUTE FUNCTION ledger_check_approval();
"""

ROLES = (
    "ALTER TABLE users DROP CONSTRAINT IF EXISTS ck_users_role;"
    "ALTER TABLE users ADD CONSTRAINT ck_users_role "
    "CHECK (role IN ('viewer', 'planner', 'engineer', 'admin', 'finance', 'auditor'))"
)


def _srid() -> int:
    settings = context.config.attributes.get("settings") or Settings()
    return load_catalog(settings.catalog_dir).srid


def upgrade() -> None:
    op.execute(TABLES.replace("{srid}", str(_srid())))
    op.execute(TRIGGERS)
    for table in LEDGER_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
    op.execute(ROLES)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS ledger_projects_now")
    for table in reversed(LEDGER_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute("DROP FUNCTION IF EXISTS ledger_append_only(), ledger_check_approval()")
    op.execute(
        "ALTER TABLE users DROP CONSTRAINT IF EXISTS ck_users_role;"
        "ALTER TABLE users ADD CONSTRAINT ck_users_role CHECK (role IN ('viewer', 'planner', 'engineer', 'admin'))"
    )
