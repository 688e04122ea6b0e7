"""Who may do what: password hashes and API tokens (roles and the audit log come next)."""
