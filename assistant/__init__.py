"""Assistant: retrieve, classify, draft and guard reply suggestions; the HTTP service.

Imports `kb` and `indexer`; never `ui` or `evals`.
"""
