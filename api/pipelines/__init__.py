"""Pipelines: ordered stages per team, the builder's rules and the progression rules.

Below deals: :mod:`api.deals` moves deals through these stages and serves the pipeline routes
(``/api/v1/pipelines``: the builder, the board, removing a stage that holds deals).
"""
