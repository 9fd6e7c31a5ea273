with source as (
    {{ silver_relation('device_events', {
        'event_id': dbt.type_string(), 'customer_id': dbt.type_string(), 'event_type': dbt.type_string(),
        'device_id': dbt.type_string(), 'ip': dbt.type_string(), 'geo_country': dbt.type_string(),
        'geo_lat': 'double', 'geo_lon': 'double'}) }}
),

final as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(device_id as {{ dbt.type_string() }}) as device_id,
        cast(event_ts as {{ ts_type() }}) as event_ts,
        cast(known_at as {{ ts_type() }}) as known_at,
        cast(dt as date) as dt
    from source
    where event_id is not null
      and dt >= {{ dbt.dateadd('day', -var('lookback_days'), date_literal(feature_date())) }}
)

select * from final
