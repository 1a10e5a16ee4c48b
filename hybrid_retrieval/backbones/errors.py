"""The one error every backbone source raises, so a job reports any of them as a mistake to fix."""

from __future__ import annotations


class BackboneNotFoundError(OSError):
    """The backbone could not be loaded; the message names it and the local-path alternative."""
