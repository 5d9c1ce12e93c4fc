{#
  Models land in exactly the schema their folder configures (analytics_staging,
  analytics_intermediate, analytics_marts, analytics_reporting, analytics_snapshots), not in
  dbt's default "<target schema>_<custom schema>".
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
