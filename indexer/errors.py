"""Errors of the indexer package."""


class IndexerError(Exception):
    """Base class: something about an index or a model a person can fix."""


class IndexNotFoundError(IndexerError):
    """No built index at the given directory."""


class ModelMismatchError(IndexerError):
    """The index was built with another embedding model than the one configured."""


class EmbeddingModelError(IndexerError):
    """The configured embedding model cannot be loaded."""


class IndexFormatError(IndexerError):
    """The index was written by a kefu with another on-disk format."""
