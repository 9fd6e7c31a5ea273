{#- device and login activity per customer at T (event_ts < T, known_at <= T): distinct devices over
    device events and card transactions in [T - 30d, T); login attempts (success or failure) in the
    last 30 days and in the 30 days before -#}
with device_events as (
    select * from {{ ref('stg_device_events__device_events') }}
    where event_ts < {{ feature_ts() }} and known_at <= {{ feature_ts() }}
      and event_ts >= {{ ago(feature_ts(), 60, 'day') }}
),

transactions as (
    select * from {{ ref('stg_transactions__transactions') }}
    where event_ts < {{ feature_ts() }} and known_at <= {{ feature_ts() }}
      and event_ts >= {{ ago(feature_ts(), 30, 'day') }}
      and device_id is not null
),

device_uses as (
    select customer_id, device_id from device_events
    where event_ts >= {{ ago(feature_ts(), 30, 'day') }}
    union all
    select customer_id, device_id from transactions
),

devices as (
    select customer_id, cast(count(distinct device_id) as {{ dbt.type_bigint() }}) as distinct_devices_30d
    from device_uses
    group by customer_id
),

logins as (
    select
        customer_id,
        cast(sum(case when event_ts >= {{ ago(feature_ts(), 30, 'day') }} then 1 else 0 end)
             as {{ dbt.type_bigint() }}) as login_count_30d,
        cast(sum(case when event_ts < {{ ago(feature_ts(), 30, 'day') }} then 1 else 0 end)
             as {{ dbt.type_bigint() }}) as login_count_prev_30d
    from device_events
    where event_type in ('login_success', 'login_failure')
    group by customer_id
),

customers as (
    select customer_id from devices
    union
    select customer_id from logins
),

final as (
    select
        customers.customer_id,
        coalesce(devices.distinct_devices_30d, 0) as distinct_devices_30d,
        coalesce(logins.login_count_30d, 0) as login_count_30d,
        coalesce(logins.login_count_prev_30d, 0) as login_count_prev_30d
    from customers
    left join devices on customers.customer_id = devices.customer_id
    left join logins on customers.customer_id = logins.customer_id
)

select * from final
