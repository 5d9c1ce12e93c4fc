{#
  The forecast as of each day: deals by forecast category and close month, from
  fct_daily_pipeline_snapshot (so a past day's forecast computed today is what it was that
  day). Open deals close in their expected month; won and lost ones in their actual month.
#}

select
    team_id::text as team_id,
    snapshot_date::date as snapshot_date,
    pipeline_id::text as pipeline_id,
    coalesce(forecast_category, 'unknown')::text as forecast_category,
    close_month::date as close_month,
    coalesce(currency, 'USD')::text as currency,
    count(*)::integer as deals,
    coalesce(sum(value), 0)::numeric(18, 2) as total_value,
    round(coalesce(sum(weighted_value), 0), 2)::numeric(18, 2) as weighted_value
from {{ ref('fct_daily_pipeline_snapshot') }}
where not is_deleted
group by 1, 2, 3, 4, 5, 6
