{# Role names: dbt vars (passed by warehouse/dbt.py), else LEADLY_DBT_*_ROLE, else defaults. #}
{% macro analytics_role() -%}
    {{ return(var('analytics_role', env_var('LEADLY_DBT_ANALYTICS_ROLE', 'leadly_analytics'))) }}
{%- endmacro %}

{% macro dashboard_role() -%}
    {{ return(var('dashboard_role', env_var('LEADLY_DBT_DASHBOARD_ROLE', 'leadly_dashboard'))) }}
{%- endmacro %}
