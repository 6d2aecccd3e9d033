"""Evals: load and validate eval sets, run them through the assistant, score, report, compare, gate.

Imports `kb` and `assistant`; never `ui`.
"""
