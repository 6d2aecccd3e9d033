"""Indexer: chunk the published KB, embed it (FAISS) and index it for BM25, with a manifest.

Imports only `kb` of Kefu.
"""
