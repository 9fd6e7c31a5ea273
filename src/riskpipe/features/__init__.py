"""Feature store: Feast configuration from settings, training sets, materialisation, online reads.

Submodules import Feast lazily (it costs seconds); import them directly, e.g.
``from riskpipe.features.store import get_store``.
"""
