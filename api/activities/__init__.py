"""The activity timeline: logged activities, derived entries, comment threads, mentions, search.

- :mod:`api.activities.service`: the rules and the only writer (``add_comment`` is public API for
  other domains, e.g. a quick reply to a mention)
- :mod:`api.activities.consumer`: the ``activity_timeline`` dispatcher consumer deriving entries from events
- :mod:`api.activities.objects`: which records have a timeline
- :mod:`api.activities.routes`: ``/api/v1/activities``, ``/api/v1/mentions``,
  ``/api/v1/{objects}/{id}/timeline``
"""
