"""One package per area; each has a ``definitions`` module exposing ``defs`` (a
``dagster.Definitions``). :mod:`orchestration.definitions` merges every area found here."""
