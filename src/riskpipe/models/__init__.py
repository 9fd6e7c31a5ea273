"""Model layer: WOE scorecard baseline, LightGBM challenger, out-of-time evaluation, reason codes,
MLflow registration with ``champion``/``challenger`` aliases, promotion with evidence, rollback.

Import the submodules directly (``riskpipe.models.train`` ...): this package imports nothing heavy.
"""
