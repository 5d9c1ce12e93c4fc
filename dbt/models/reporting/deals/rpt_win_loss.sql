{#
  Won and lost deals by close month, pipeline, owner, source, outcome, reason and competitor:
  how many, their value, and the average days from creation to close.
#}

with closed as (

    select
        *,
        case when status = 'won' then win_reason else loss_reason end as reason
    from {{ ref('stg_app__deals') }}
    where not is_deleted and status in ('won', 'lost')

)

select
    team_id::text as team_id,
    date_trunc('month', coalesce(actual_close_date, {{ utc_date('updated_at') }}))::date
        as close_month,
    pipeline_id::text as pipeline_id,
    owner_id::text as owner_id,
    coalesce(source, 'unknown')::text as source,
    status::text as outcome,
    coalesce(reason, 'unknown')::text as reason,
    coalesce(competitor, 'none')::text as competitor,
    coalesce(currency, 'USD')::text as currency,
    count(*)::integer as deals,
    coalesce(sum(value), 0)::numeric(18, 2) as total_value,
    round(
        avg(coalesce(actual_close_date, {{ utc_date('updated_at') }}) - {{ utc_date('created_at') }}),
        2
    )::numeric as avg_days_to_close
from closed
group by 1, 2, 3, 4, 5, 6, 7, 8, 9
