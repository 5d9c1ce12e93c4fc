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
        {{ record_columns() }}
    from source

)

select * from renamed
