{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key=['team_id', 'metric_date'],
        insert_filter='value <> 0',
        indexes=[
            {'columns': ['team_id', 'metric_date']},
            {'columns': ['_history_loaded_at']},
        ],
    )
}}

{#
  Daily activity rollup (the blueprint's analytics_daily_rollup): one row per team ×
  metric_date (UTC) × metric × dimension_name × dimension_value. Each metric is counted on the
  day the activity happened, over all of the team ('all'/'all'), per owner ('owner_id'/<member
  id> or 'unassigned') and, for lead metrics, per source ('source'/<source> or 'unknown').
  Only non-zero values have a row. dimensions repeats the dimension as jsonb ({} for 'all').

  Metrics: leads_created, leads_contacted, leads_qualified, leads_converted (live leads, on the
  day they reached the step; owner and source are the lead's current ones), calls_logged,
  calls_connected, call_minutes (by the call's start day and caller), contacts_created,
  accounts_created (live records by creation day and owner).

  Incremental: from the record versions added to int_record_history since the last run, the
  (team, day)s whose numbers they can change are recomputed whole: a lead's new status counts
  on its day; a new lead, or one with a new owner, source or deletion, on every day it counts
  on; a call, contact or account changed in a counted field on its day before and after the
  change (a call moved to another day frees its old day). Changes of other fields recompute
  nothing. A day left without activity gets a placeholder row that replace_keys does not
  insert.
#}

with

{% if is_incremental() %}
new_versions as (

    select *
    from {{ ref('int_record_history') }}
    where _loaded_at > {{ watermark('_history_loaded_at', 'timestamptz') }}
      and object_type in ('lead', 'call_log', 'contact', 'account')

),

days as (

    select distinct team_id, metric_date
    from (

        -- a lead's new status: a step it may have reached that day
        select team_id, {{ utc_date('valid_from') }} as metric_date
        from new_versions
        where object_type = 'lead' and changed_fields ? 'status'

        union all

        -- a new lead, or a new owner, source or deletion: every day the lead counts on
        select version.team_id, day.metric_date
        from new_versions as version
        cross join lateral (
            select *
            from {{ ref('int_lead_funnel_steps') }} as s
            where s.team_id = version.team_id and s.lead_id = version.object_id
        ) as steps
        cross join lateral (
            values (steps.created_date), (steps.contacted_date), (steps.qualified_date),
                   (steps.converted_date)
        ) as day (metric_date)
        where version.object_type = 'lead'
          and (
              version.version = 1
              or version.changed_fields ?| array['owner_id', 'source', 'deleted_at', 'created_at']
          )

        union all

        -- calls, contacts, accounts: their day before and after a change of a counted field
        select version.team_id, day.metric_date
        from new_versions as version
        left join lateral (
            select p.state
            from {{ ref('int_record_history') }} as p
            where p.team_id = version.team_id
              and p.object_type = version.object_type
              and p.object_id = version.object_id
              and p.version = version.version - 1
        ) as previous on true
        cross join lateral (
            values
                ({{ utc_date("(version.state ->> 'started_at')::timestamptz") }}),
                ({{ utc_date("(previous.state ->> 'started_at')::timestamptz") }}),
                ({{ utc_date("coalesce((version.state ->> 'created_at')::timestamptz, version.record_created_at)") }}),
                ({{ utc_date("(previous.state ->> 'created_at')::timestamptz") }})
        ) as day (metric_date)
        where version.object_type in ('call_log', 'contact', 'account')
          and (
              version.version = 1
              or version.changed_fields ?| array['started_at', 'duration', 'outcome',
                                                 'member_id', 'owner_id', 'deleted_at',
                                                 'created_at']
          )

    ) as touched
    where metric_date is not null

),
{% endif %}

facts as (

    -- one row per measured thing: team, day, metric, owner, source (lead metrics only), value
    {% for step in ['created', 'contacted', 'qualified', 'converted'] %}
    select team_id, {{ step }}_date as metric_date, 'leads_{{ step }}' as metric, owner_id,
           source, 1::numeric as value
    from ({{ rows_on_days(ref('int_lead_funnel_steps'), step ~ '_date', 'not x.is_deleted') }}) as steps

    union all
    {% endfor %}

    select team_id, started_date, 'calls_logged', member_id, null, 1::numeric
    from ({{ rows_on_days(ref('fct_calls'), 'started_date') }}) as calls

    union all

    select team_id, started_date, 'calls_connected', member_id, null, 1::numeric
    from ({{ rows_on_days(ref('fct_calls'), 'started_date', 'x.is_connected') }}) as calls

    union all

    -- seconds here, minutes after summing (see below)
    select team_id, started_date, 'call_minutes', member_id, null, duration_seconds::numeric
    from ({{ rows_on_days(ref('fct_calls'), 'started_date') }}) as calls

    union all

    select team_id, created_date, 'contacts_created', owner_id, null, 1::numeric
    from ({{ rows_on_days(ref('dim_contacts'), 'created_date') }}) as contacts

    union all

    select team_id, created_date, 'accounts_created', owner_id, null, 1::numeric
    from ({{ rows_on_days(ref('dim_accounts'), 'created_date') }}) as accounts

    {% if is_incremental() %}
    union all

    -- placeholder per recomputed day (dropped on insert): empties a day left without activity
    select team_id, metric_date, 'leads_created', null, null, 0::numeric
    from days
    {% endif %}

),

rolled_up as (

    select
        team_id,
        metric_date,
        metric,
        case
            when grouping(owner_id) = 0 then 'owner_id'
            when grouping(source) = 0 then 'source'
            else 'all'
        end as dimension_name,
        case
            when grouping(owner_id) = 0 then coalesce(owner_id, 'unassigned')
            when grouping(source) = 0 then source
            else 'all'
        end as dimension_value,
        sum(value) as value
    from facts
    group by grouping sets (
        (team_id, metric_date, metric),
        (team_id, metric_date, metric, owner_id),
        (team_id, metric_date, metric, source)
    )

)

select
    team_id,
    metric_date,
    metric,
    dimension_name,
    dimension_value,
    case
        when dimension_name = 'all' then '{}'::jsonb
        else jsonb_build_object(dimension_name, dimension_value)
    end as dimensions,
    case when metric = 'call_minutes' then round(value / 60.0, 4) else value end as value,
    (select max(_loaded_at) from {{ ref('int_record_history') }}) as _history_loaded_at
from rolled_up
-- the source dimension is for lead metrics only
where not (dimension_name = 'source' and dimension_value is null)
{% if not is_incremental() %}
  and value <> 0
{% endif %}
