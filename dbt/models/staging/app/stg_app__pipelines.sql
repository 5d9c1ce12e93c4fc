with source as (

    select * from {{ source('app', 'pipelines') }}

),

renamed as (

    select
        team_id,
        id as pipeline_id,
        name as pipeline_name,
        is_default,
        stages,
        created_by,
        {{ record_columns() }}
    from source

)

select * from renamed
