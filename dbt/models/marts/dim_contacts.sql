-- One row per live (not deleted) contact, with its account and owner.
{{ config(indexes=[{'columns': ['team_id', 'created_date']}]) }}

-- Built after the history, so it reflects at least every change the incremental rollup saw.
-- depends_on: {{ ref('int_record_history') }}

with contacts as (

    select * from {{ ref('stg_app__contacts') }}
    where not is_deleted

),

accounts as (

    select * from {{ ref('stg_app__accounts') }}

),

members as (

    select * from {{ ref('stg_app__team_members') }}

)

select
    contacts.team_id,
    contacts.contact_id,
    contacts.first_name,
    contacts.last_name,
    nullif(concat_ws(' ', contacts.first_name, contacts.last_name), '') as full_name,
    contacts.email,
    contacts.phone,
    contacts.title,
    contacts.account_id,
    accounts.name as account_name,
    contacts.owner_id,
    members.name as owner_name,
    contacts.lead_id,
    contacts.lead_id is not null as is_from_lead,
    contacts.custom,
    contacts.created_by,
    contacts.created_at,
    {{ utc_date('contacts.created_at') }} as created_date,
    contacts.updated_at
from contacts
left join accounts
    on  contacts.team_id = accounts.team_id
    and contacts.account_id = accounts.account_id
left join members
    on  contacts.team_id = members.team_id
    and contacts.owner_id = members.member_id
