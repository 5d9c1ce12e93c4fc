with source as (

    select * from {{ source('app', 'task_dependencies') }}

),

renamed as (

    select
        team_id,
        id as dependency_id,
        task_id,
        depends_on_task_id,
        type as dependency_type,
        created_by,
        created_at
    from source

)

select * from renamed
