"""Accounts: users with a role and a scope, password and token checks, login sessions, the audit log."""
