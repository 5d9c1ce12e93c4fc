"""Leadly's shared basics (settings, ids, the actor, problems, time zones, the clock) at the
bottom of the package graph, and the launcher (:mod:`leadly.launcher`) at its top.

The basics import nothing of Leadly's other packages, no web framework and no orchestrator;
``make lint`` holds that (the import contracts in ``pyproject.toml``)."""
