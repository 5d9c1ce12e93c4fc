with source as (

    select * from {{ source('app', 'imports') }}

),

renamed as (

    select
        team_id,
        id as import_id,
        object,
        status,
        file_name,
        file_format,
        file_size,
        file_sha256,
        stored_path,
        encoding,
        delimiter,
        columns,
        mapping,
        duplicate_policy,
        runner,
        batch_size,
        batches_total,
        batches_done,
        total_rows,
        imported,
        updated,
        skipped_duplicates,
        rejected,
        error,
        request_id,
        created_by,
        staged_at,
        started_at,
        finished_at,
        created_at,
        updated_at,
        version
    from source

)

select * from renamed
