"""User interfaces: the `kefu` command line, the agent sidebar page and the Gradio knowledge editor."""
