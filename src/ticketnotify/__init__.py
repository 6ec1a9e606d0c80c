"""ticketnotify: localized ticket-update notifications with a durable outbox."""
