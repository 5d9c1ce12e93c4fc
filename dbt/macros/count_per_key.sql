{#
  How many rows of `relation` each (team_id, `key`) has, as column `name` (optionally only the
  rows matching `where`): the children of a record, to left join on it and coalesce to 0.

    comments as ({{ count_per_key(ref('stg_app__activity_comments'), 'activity_id',
                                  'comments_count', 'not is_deleted') }})
#}
{% macro count_per_key(relation, key, name, where=none) -%}
    select team_id, {{ key }}, count(*) as {{ name }}
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
    group by team_id, {{ key }}
{%- endmacro %}
