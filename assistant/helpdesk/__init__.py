"""Helpdesk integrations: the generic parts (turns, matching a sent reply, the note) and one module per helpdesk."""
