{#- application history per customer known at T -#}
with applications as (
    select * from {{ ref('stg_applications__applications') }}
    where event_ts < {{ feature_ts() }} and known_at <= {{ feature_ts() }}
),

ranked as (
    select
        *,
        row_number() over (partition by customer_id order by applied_at desc, application_id desc) as recency
    from applications
),

final as (
    select
        customer_id,
        cast(sum(case when applied_at >= {{ ago(feature_ts(), 90, 'day') }} then 1 else 0 end) as {{ dbt.type_bigint() }})
            as applications_90d,
        max(case when recency = 1 then requested_amount end) as last_requested_amount
    from ranked
    group by customer_id
)

select * from final
