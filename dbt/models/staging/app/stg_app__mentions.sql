with source as (

    select * from {{ source('app', 'mentions') }}

),

renamed as (

    select
        team_id,
        id as mention_id,
        member_id,
        activity_id,
        comment_id,
        mentioned_by,
        created_at,
        read_at,
        read_at is not null as is_read
    from source

)

select * from renamed
