{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key=['team_id', 'lead_id'],
        indexes=[
            {'columns': ['team_id', 'lead_id'], 'unique': true},
            {'columns': ['_history_loaded_at']},
            {'columns': ['team_id', 'created_date']},
            {'columns': ['team_id', 'contacted_date']},
            {'columns': ['team_id', 'qualified_date']},
            {'columns': ['team_id', 'converted_date']},
        ],
    )
}}

{#
  One row per lead in the event log: when it was created and when it first reached each funnel
  step, from its status history. Steps are cumulative: reaching a later step (qualified)
  passes the earlier ones (contacted) at the same moment if they were skipped. A lead created
  directly at a step reached it at creation. Source, owner and status are the lead's current
  ones. Incremental: leads with versions added to int_record_history since the last run.
#}

with

{% if is_incremental() %}
changed_leads as (

    select distinct team_id, object_id
    from {{ ref('int_record_history') }}
    where object_type = 'lead'
      and _loaded_at > {{ watermark('_history_loaded_at', 'timestamptz') }}

),
{% endif %}

versions as (

    select
        history.team_id,
        history.object_id as lead_id,
        history.version,
        history.valid_from,
        history.is_current,
        history.is_deleted,
        history.state,
        history.record_created_at,
        history._loaded_at,
        {{ lead_status_rank("history.state ->> 'status'") }} as status_rank
    -- the changed leads' versions (building in full: every lead's)
    from ({{ record_versions('lead', 'changed_leads') }}) as history

),

leads as (

    select
        team_id,
        lead_id,
        -- the record's own created_at (imports may carry an earlier one), else its first event
        coalesce(
            min((state ->> 'created_at')::timestamptz) filter (where version = 1),
            min(record_created_at)
        ) as created_at,
        min(valid_from) filter (where status_rank >= 2 and version > 1) as contacted_event_at,
        min(valid_from) filter (where status_rank >= 3 and version > 1) as qualified_event_at,
        min(valid_from) filter (where status_rank >= 4 and version > 1) as converted_event_at,
        max(status_rank) filter (where version = 1) as created_rank,
        max(state ->> 'status') filter (where is_current) as status,
        max(state ->> 'source') filter (where is_current) as source,
        max(state ->> 'owner_id') filter (where is_current) as owner_id,
        bool_or(is_deleted) filter (where is_current) as is_deleted,
        max(_loaded_at) as _history_loaded_at
    from versions
    group by team_id, lead_id

)

select
    team_id,
    lead_id,
    created_at,
    created_date,
    status,
    source,
    owner_id,
    is_deleted,
    contacted_at,
    qualified_at,
    converted_at,
    {{ utc_date('contacted_at') }} as contacted_date,
    {{ utc_date('qualified_at') }} as qualified_date,
    {{ utc_date('converted_at') }} as converted_date,
    _history_loaded_at
from (

    select
        team_id,
        lead_id,
        created_at,
        {{ utc_date('created_at') }} as created_date,
        status,
        coalesce(nullif(source, ''), 'unknown') as source,
        owner_id,
        coalesce(is_deleted, false) as is_deleted,
        case when created_rank >= 2 then created_at else contacted_event_at end as contacted_at,
        case when created_rank >= 3 then created_at else qualified_event_at end as qualified_at,
        case when created_rank >= 4 then created_at else converted_event_at end as converted_at,
        _history_loaded_at
    from leads

) as steps
