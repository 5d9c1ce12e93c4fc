with source as (

    select * from {{ source('app', 'invitations') }}

),

renamed as (

    select
        -- not exposed: token_hash
        team_id,
        id as invitation_id,
        email,
        role_id,
        invited_by,
        created_at,
        expires_at,
        accepted_at,
        accepted_member_id,
        revoked_at
    from source

)

select * from renamed
