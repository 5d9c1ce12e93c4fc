{#
  Incremental strategy "delete_window": for every unique_key group present in the new rows,
  delete the target's rows from the group's earliest window_column value onwards, then insert
  the new rows. Used for day-grained models where a change rewrites a group's days from the
  day it happened (e.g. a lead deleted today loses its later days, not only changed ones).
  The new rows are ANALYZEd first (see replace_keys).

    config(materialized='incremental', incremental_strategy='delete_window',
           unique_key=['team_id', 'lead_id'], window_column='snapshot_date')
#}
{% macro get_incremental_delete_window_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set keys = arg_dict["unique_key"] -%}
    {%- if keys is string -%}{%- set keys = [keys] -%}{%- endif -%}
    {%- set window_column = config.require("window_column") -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    analyze {{ source }};

    delete from {{ target }} as dbt_internal_dest
    using (
        select {{ keys | join(", ") }}, min({{ window_column }}) as dbt_window_start
        from {{ source }}
        group by {{ keys | join(", ") }}
    ) as dbt_internal_window
    where {% for key in keys -%}
        dbt_internal_dest.{{ key }} = dbt_internal_window.{{ key }} and
    {% endfor -%}
        dbt_internal_dest.{{ window_column }} >= dbt_internal_window.dbt_window_start;

    insert into {{ target }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }} from {{ source }}
{% endmacro %}
