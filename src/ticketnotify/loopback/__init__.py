"""In-process stand-ins for mail and push services, for ``ticketnotify demo`` and the tests."""
