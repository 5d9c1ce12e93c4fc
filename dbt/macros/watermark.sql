{#
  Where an incremental model left off: the highest `column` of its table, compiled into the
  SQL as a literal of `type` (so the planner knows how few rows lie beyond it and reads them
  through an index), or `default` when the table is empty. In unit tests, where `this` is a
  fixture, it stays a subquery.

    where _loaded_at > {{ watermark('_history_loaded_at', 'timestamptz') }}
#}
{% macro watermark(column, type, default=none) -%}
    {%- set fallback = default if default is not none else (
        "'-infinity'::" ~ type if type in ('timestamptz', 'date') else "'0'::" ~ type
    ) -%}
    {%- if model.resource_type == 'unit_test' or not execute -%}
        (select coalesce(max({{ column }}), {{ fallback }}) from {{ this }})
    {%- else -%}
        {%- set result = run_query("select max(" ~ column ~ ")::text from " ~ this) -%}
        {%- set value = result.columns[0].values()[0] -%}
        {%- if value is none -%}
            {{ fallback }}
        {%- else -%}
            '{{ value }}'::{{ type }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
