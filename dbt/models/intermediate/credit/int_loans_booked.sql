{#- approved applications with their loan id: the loan -> customer mapping (a static fact) -#}
with applications as (
    select * from {{ ref('stg_applications__applications') }}
    where decision = 'approved' and loan_id is not null
),

ranked as (
    select
        *,
        row_number() over (partition by loan_id order by event_ts desc, known_at desc, application_id desc) as version_rank
    from applications
),

final as (
    select
        loan_id,
        application_id,
        customer_id,
        applied_at,
        requested_amount,
        known_at as application_known_at
    from ranked
    where version_rank = 1
)

select * from final
