{#
  Snapshot times as timestamptz, like every Leadly timestamp (dbt-postgres's default is a
  timestamp without time zone, which would mismatch updated_at).
#}
{% macro postgres__snapshot_get_time() -%}
    now()
{%- endmacro %}
