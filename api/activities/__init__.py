"""The activity timeline: logged activities, derived entries, comment threads, mentions, search.

- :mod:`api.activities.service`: logged activities, the only writer of ``app.activities``
- :mod:`api.activities.comments`: comment threads (``add_comment`` is public API for other
  domains, e.g. a quick reply to a mention)
- :mod:`api.activities.mentions`: ``@[Name](member_id)`` mentions, their rows and events
- :mod:`api.activities.timeline`: record timelines; :mod:`api.activities.search`: full-text search
- :mod:`api.activities.paging`: the page cursors of those lists
- :mod:`api.activities.consumer`: the ``activity_timeline`` dispatcher consumer deriving entries from events
- :mod:`api.activities.objects`: which records have a timeline
- :mod:`api.activities.routes`: ``/api/v1/activities``, ``/api/v1/mentions``,
  ``/api/v1/{objects}/{id}/timeline``, ``/api/v1/search/activities``
"""
