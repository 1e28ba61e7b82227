"""Who may read what: the access rules file, users and sign-in, the audit log."""
