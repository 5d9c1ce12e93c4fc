with source as (

    select * from {{ source('app', 'deals') }}

),

renamed as (

    select
        team_id,
        id as deal_id,
        name as deal_name,
        value,
        currency,
        value_type,
        probability,
        pipeline_id,
        stage,
        status,
        position,
        stage_changed_at,
        expected_close_date,
        actual_close_date,
        owner_id,
        lead_id,
        account_id,
        win_reason,
        loss_reason,
        competitor,
        next_step,
        source,
        custom,
        created_by,
        {{ record_columns() }}
    from source

)

select * from renamed
