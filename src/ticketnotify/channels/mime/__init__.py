"""MIME building and header encoding, shared by the SMTP channel, the files channel and preview."""
