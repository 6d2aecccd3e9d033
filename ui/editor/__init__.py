"""The Gradio knowledge editor (mounted at /editor by `kefu serve`, or run alone by `kefu editor`).

Documents are versioned beside the KB (`versions.py`), published through the incremental indexer
(`workspace.py`), previewed against the published KB or the drafts (`preview.py`, `drafts.py`,
`impact.py`), and improved from agents' feedback (`analytics.py`, `gaps.py`). `handlers.py` holds what
each button does as plain functions; `app.py` lays out the tabs:

>>> from ui.editor.app import build_editor   # imports Gradio; the other modules do not
>>> gr.mount_gradio_app(app, build_editor(kb_dir, index_dir, embedder, feedback=store), path="/editor")
"""
