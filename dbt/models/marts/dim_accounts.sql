-- One row per live (not deleted) account, with its owner and how many contacts and converted
-- leads it has.
{{ config(indexes=[{'columns': ['team_id', 'created_date']}]) }}

-- Built after the history, so it reflects at least every change the incremental rollup saw.
-- depends_on: {{ ref('int_record_history') }}

with accounts as (

    select * from {{ ref('stg_app__accounts') }}
    where not is_deleted

),

members as (

    select * from {{ ref('stg_app__team_members') }}

),

contacts as (

    select team_id, account_id, count(*) as contacts_count
    from {{ ref('stg_app__contacts') }}
    where not is_deleted and account_id is not null
    group by team_id, account_id

),

converted_leads as (

    select team_id, converted_account_id as account_id, count(*) as converted_leads_count
    from {{ ref('stg_app__leads') }}
    where converted_account_id is not null
    group by team_id, converted_account_id

)

select
    accounts.team_id,
    accounts.account_id,
    accounts.name,
    accounts.domain,
    accounts.industry,
    accounts.website,
    accounts.owner_id,
    members.name as owner_name,
    coalesce(contacts.contacts_count, 0) as contacts_count,
    coalesce(converted_leads.converted_leads_count, 0) as converted_leads_count,
    accounts.custom,
    accounts.created_by,
    accounts.created_at,
    {{ utc_date('accounts.created_at') }} as created_date,
    accounts.updated_at
from accounts
left join members
    on  accounts.team_id = members.team_id
    and accounts.owner_id = members.member_id
left join contacts
    on  accounts.team_id = contacts.team_id
    and accounts.account_id = contacts.account_id
left join converted_leads
    on  accounts.team_id = converted_leads.team_id
    and accounts.account_id = converted_leads.account_id
