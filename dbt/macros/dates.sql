{# Days are UTC days, whatever the session's time zone. #}
{% macro utc_date(expr) -%}
    (({{ expr }}) at time zone 'UTC')::date
{%- endmacro %}

{#
  "Today" for models that fill days up to the present: the var as_of_date ('YYYY-MM-DD', used
  by unit tests) or the current UTC date.
#}
{% macro analytics_today() -%}
    {%- set pinned = var('as_of_date', none) -%}
    {%- if pinned -%}
        date '{{ pinned }}'
    {%- else -%}
        (now() at time zone 'UTC')::date
    {%- endif -%}
{%- endmacro %}

{# Hours between two timestamps (numeric), null when either is null. #}
{% macro hours_between(start, finish) -%}
    (extract(epoch from (({{ finish }}) - ({{ start }}))) / 3600.0)
{%- endmacro %}
