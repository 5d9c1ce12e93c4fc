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
        created_at,
        updated_at,
        version,
        deleted_at,
        deleted_at is not null as is_deleted
    from source

)

select * from renamed
