{#- the latest customer master version known at the feature time T:
    event_ts (= updated_at) < T and known_at <= T; ties broken by the later file row -#}
with customers as (
    select * from {{ ref('stg_customers__customers') }}
),

known as (
    select *
    from customers
    where event_ts < {{ feature_ts() }}
      and known_at <= {{ feature_ts() }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by event_ts desc, known_at desc, _source_file desc, _source_row desc
        ) as version_rank
    from known
),

final as (
    select
        customer_id,
        date_of_birth,
        region,
        employment_status,
        annual_income,
        registered_at,
        event_ts as version_ts
    from ranked
    where version_rank = 1
)

select * from final
