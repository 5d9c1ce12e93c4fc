-- One row per live task and member it is credited to: each assignee, or the creator when the
-- task has none (a task without either is credited to nobody).

with tasks as (

    select * from {{ ref('stg_app__tasks') }}
    where not is_deleted

)

select distinct
    team_id,
    task_id,
    member_id
from tasks
cross join lateral unnest(
    case
        when cardinality(assignee_ids) > 0 then assignee_ids
        else array[created_by]
    end
) as credited(member_id)
where member_id is not null
