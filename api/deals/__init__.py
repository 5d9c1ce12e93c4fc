"""Deals, moved through the stages of :mod:`api.pipelines` (which knows nothing of deals).

- :mod:`api.deals.service`: the deal gate, the only writer of ``app.deals``; removing a stage
  that holds deals (:func:`~api.deals.service.remove_stage`)
- :mod:`api.deals.positions`: card order within a board column
- :mod:`api.deals.board`: the kanban board; :mod:`api.deals.analytics`: velocity, weighted value
- :mod:`api.deals.consumer`: the ``deal_progression`` dispatcher consumer
- :mod:`api.deals.routes`: ``/api/v1/deals`` and ``/api/v1/pipelines`` (the pipeline builder
  and the board; one controller per path, and removing a stage moves deals)
"""
