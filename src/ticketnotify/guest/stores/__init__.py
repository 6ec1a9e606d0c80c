"""Where verification codes and send counts live: memory, SQLite, PostgreSQL."""
