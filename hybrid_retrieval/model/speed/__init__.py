"""Speed levers of the DualEncoder (``model.speed``), outside the model core: one entry point, :class:`Speed`."""

from hybrid_retrieval.model.speed.levers import Speed

__all__ = ["Speed"]
