{#
  Incremental strategy "replace_keys": delete the target's rows whose unique_key (one or more
  columns, which may repeat in the new rows) appears in the new rows, then insert the new rows
  that pass the optional config insert_filter. A model can so empty a key it recomputed: it
  emits a placeholder row for the key that the filter drops (e.g. a day whose leads were all
  deleted: insert_filter='leads_created > 0').

  The new rows are ANALYZEd first: their temp table has no statistics otherwise, and the
  planner must know it is small to delete through the target's index rather than scan it.

    config(materialized='incremental', incremental_strategy='replace_keys',
           unique_key=['team_id', 'created_date'], insert_filter='leads_created > 0')
#}
{% macro get_incremental_replace_keys_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set keys = arg_dict["unique_key"] -%}
    {%- if keys is string -%}{%- set keys = [keys] -%}{%- endif -%}
    {%- set insert_filter = config.get("insert_filter") -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    analyze {{ source }};

    delete from {{ target }} as dbt_internal_dest
    using (select distinct {{ keys | join(", ") }} from {{ source }}) as dbt_internal_keys
    where {% for key in keys -%}
        dbt_internal_dest.{{ key }} = dbt_internal_keys.{{ key }}
        {%- if not loop.last %} and {% endif %}
    {% endfor %};

    insert into {{ target }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }} from {{ source }}
    {%- if insert_filter %}
    where {{ insert_filter }}
    {%- endif %}
{% endmacro %}
