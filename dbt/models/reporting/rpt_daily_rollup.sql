-- Contract with the dashboards (apps/): see rpt_daily_rollup in _reporting__models.yml.

select
    team_id::text as team_id,
    metric_date::date as metric_date,
    metric::text as metric,
    dimension_name::text as dimension_name,
    dimension_value::text as dimension_value,
    value::numeric as value
from {{ ref('fct_daily_rollup') }}
