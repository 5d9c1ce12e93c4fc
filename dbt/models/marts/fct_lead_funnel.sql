{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key=['team_id', 'created_date'],
        insert_filter='leads_created > 0',
        indexes=[
            {'columns': ['team_id', 'created_date']},
            {'columns': ['_history_loaded_at']},
        ],
    )
}}

{#
  Lead funnel by cohort: one row per team × created_date (UTC) × source × owner_id (owner may
  be null). Of the live leads created that day from that source and owned by that member, how
  many reached contacted, qualified and converted (steps are cumulative: a qualified lead has
  passed contacted), the conversion rate of each step (step / created) and the average hours
  from creation to each step.

  Incremental: the (team, created_date) cohorts of the leads created, or changed in status,
  owner, source or deletion, since the last run (versions added to int_record_history) are
  recomputed whole (a lead moving to another owner or source moves within its day); a day
  left without live leads gets a placeholder row that replace_keys does not insert.
#}

with

{% if is_incremental() %}
changed_days as (

    select distinct steps.team_id, steps.created_date
    from {{ ref('int_record_history') }} as version
    cross join lateral (
        select *
        from {{ ref('int_lead_funnel_steps') }} as s
        where s.team_id = version.team_id and s.lead_id = version.object_id
    ) as steps
    where version.object_type = 'lead'
      and version._loaded_at > {{ watermark('_history_loaded_at', 'timestamptz') }}
      and (
          version.version = 1
          or version.changed_fields ?| array['status', 'owner_id', 'source', 'deleted_at',
                                             'created_at']
      )

),

steps as (

    select steps.*
    from changed_days
    cross join lateral (
        select *
        from {{ ref('int_lead_funnel_steps') }} as s
        where s.team_id = changed_days.team_id
          and s.created_date = changed_days.created_date
          and not s.is_deleted
    ) as steps

),
{% else %}
steps as (

    select * from {{ ref('int_lead_funnel_steps') }}
    where not is_deleted

),
{% endif %}

members as (

    select * from {{ ref('stg_app__team_members') }}

),

funnel as (

    select
        team_id,
        created_date,
        source,
        owner_id,
        count(*) as leads_created,
        count(contacted_at) as leads_contacted,
        count(qualified_at) as leads_qualified,
        count(converted_at) as leads_converted,
        avg({{ hours_between('created_at', 'contacted_at') }}) as avg_hours_to_contacted,
        avg({{ hours_between('created_at', 'qualified_at') }}) as avg_hours_to_qualified,
        avg({{ hours_between('created_at', 'converted_at') }}) as avg_hours_to_converted,
        avg({{ hours_between('contacted_at', 'qualified_at') }}) as avg_hours_contacted_to_qualified,
        avg({{ hours_between('qualified_at', 'converted_at') }}) as avg_hours_qualified_to_converted
    from steps
    group by team_id, created_date, source, owner_id

    {% if is_incremental() %}
    union all

    -- placeholder per recomputed day (dropped on insert): empties a day with no live lead left
    select
        team_id, created_date, 'unknown', null, 0, 0, 0, 0, null, null, null, null, null
    from changed_days
    {% endif %}

)

select
    funnel.team_id,
    funnel.created_date,
    funnel.source,
    funnel.owner_id,
    members.name as owner_name,
    funnel.leads_created,
    funnel.leads_contacted,
    funnel.leads_qualified,
    funnel.leads_converted,
    round(funnel.leads_contacted::numeric / nullif(funnel.leads_created, 0), 4) as contacted_rate,
    round(funnel.leads_qualified::numeric / nullif(funnel.leads_created, 0), 4) as qualified_rate,
    round(funnel.leads_converted::numeric / nullif(funnel.leads_created, 0), 4) as converted_rate,
    round(funnel.avg_hours_to_contacted, 2) as avg_hours_to_contacted,
    round(funnel.avg_hours_to_qualified, 2) as avg_hours_to_qualified,
    round(funnel.avg_hours_to_converted, 2) as avg_hours_to_converted,
    round(funnel.avg_hours_contacted_to_qualified, 2) as avg_hours_contacted_to_qualified,
    round(funnel.avg_hours_qualified_to_converted, 2) as avg_hours_qualified_to_converted,
    -- bookkeeping: the history this run had read (where the next incremental run starts)
    (select max(_loaded_at) from {{ ref('int_record_history') }}) as _history_loaded_at
from funnel
left join members
    on  funnel.team_id = members.team_id
    and funnel.owner_id = members.member_id
