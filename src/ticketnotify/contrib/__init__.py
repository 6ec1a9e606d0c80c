"""Framework glue: guest pages for ASGI apps (``contrib.asgi``); the core never imports a framework."""
