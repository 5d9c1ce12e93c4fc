with source as (

    select * from {{ source('app', 'activity_comments') }}

),

renamed as (

    select
        -- not exposed: search_vector (a full-text index column)
        team_id,
        id as comment_id,
        activity_id,
        parent_comment_id,
        author_id,
        text as comment_text,
        edited_at,
        created_at,
        updated_at,
        version,
        deleted_at,
        deleted_at is not null as is_deleted
    from source

)

select * from renamed
