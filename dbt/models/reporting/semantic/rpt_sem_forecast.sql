{#
  The semantic layer's forecast: rpt_forecast's rows (deals by forecast category and close
  month as of each day, from the daily snapshots: a past day's rows never change) with a
  surrogate key for the contract.
#}
{{ config(indexes=[{'columns': ['team_id', 'snapshot_date']}]) }}

select
    team_id::text as team_id,
    md5(concat_ws('|', pipeline_id, forecast_category, close_month, currency))::text as forecast_key,
    snapshot_date::date as snapshot_date,
    pipeline_id::text as pipeline_id,
    forecast_category::text as forecast_category,
    close_month::date as close_month,
    currency::text as currency,
    deals::integer as deals,
    total_value::numeric(18, 2) as total_value,
    weighted_value::numeric(18, 2) as weighted_value
from {{ ref('rpt_forecast') }}
