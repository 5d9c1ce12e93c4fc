{#
  The rows of `relation` whose `date_column` is one of the days being recomputed (the model's
  `days` CTE: team_id, metric_date), by index lookups; when building in full, every row.
  `where` filters further (the relation is aliased x). Rows without a date are left out.
#}
{% macro rows_on_days(relation, date_column, where='true') %}
    {% if is_incremental() %}
    select r.*
    from days
    cross join lateral (
        select * from {{ relation }} as x
        where x.team_id = days.team_id and x.{{ date_column }} = days.metric_date
          and {{ where }}
    ) as r
    {% else %}
    select * from {{ relation }} as x where x.{{ date_column }} is not null and {{ where }}
    {% endif %}
{% endmacro %}
