{#- device and login activity per customer at T (event_ts < T, known_at <= T): distinct devices over
    device events and card transactions in [T - 30d, T), and the ids of the (at most
    var('recent_devices_max')) most recently used of them, sorted and '|'-joined (what a transaction's
    "new device" flag is checked against); login attempts (success or failure) in the last 30 days
    and in the 30 days before -#}
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
    select customer_id, device_id, event_ts from device_events
    where event_ts >= {{ ago(feature_ts(), 30, 'day') }}
    union all
    select customer_id, device_id, event_ts from transactions
),

device_last_use as (
    select customer_id, device_id, max(event_ts) as last_ts
    from device_uses
    where device_id is not null
    group by customer_id, device_id
),

device_recency as (
    select
        customer_id,
        device_id,
        row_number() over (partition by customer_id order by last_ts desc, device_id) as recency
    from device_last_use
),

devices as (
    select
        customer_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as distinct_devices_30d,
        {{ sorted_string_agg("case when recency <= " ~ var('recent_devices_max') ~ " then device_id end", '|') }}
            as recent_devices_30d
    from device_recency
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
        devices.recent_devices_30d,
        coalesce(logins.login_count_30d, 0) as login_count_30d,
        coalesce(logins.login_count_prev_30d, 0) as login_count_prev_30d
    from customers
    left join devices on customers.customer_id = devices.customer_id
    left join logins on customers.customer_id = logins.customer_id
)

select * from final
