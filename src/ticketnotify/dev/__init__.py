"""``ticketnotify dev``: a local mail and push catcher with the guest pages, for developers and QA."""
