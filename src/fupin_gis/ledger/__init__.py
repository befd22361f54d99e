"""The project ledger: projects and funds bound to the map.

Programmes → annual tranches → projects and sub-projects (项目库) → budget lines by funding
source → procurement and contracts → progress measured from the registry → payments (报账)
capped by certified progress → public notices (公示) → acceptance (验收) → audit findings →
hand-over to the asset register. Every change is an append-only event; the seven fund rules of
the plan (``plans/fund-rules.toml``) are checked in the core, so the command line, the API and
the pages obey them alike.
"""
