"""Errors raised while reading an extract; their messages name the file (and row/field where known)."""

from __future__ import annotations


class IngestError(Exception):
    """A dropped file cannot be loaded; the message says what to fix."""


class UnreadableFileError(IngestError):
    """The whole file cannot be read (corrupt, wrong format, no usable records)."""


class UnknownAgencyError(IngestError):
    """The agency of a tabular extract cannot be determined from its landing folder."""


class StorageFullError(Exception):
    """The machine could not hold the load (disk or quota full, out of file handles).

    Not the file's fault: nothing of it is kept in the raw zone and the file stays where it was (not quarantined),
    so a retry after the operator frees space loads it.
    """
