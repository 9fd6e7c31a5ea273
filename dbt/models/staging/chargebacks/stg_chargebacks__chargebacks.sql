{#- chargebacks; event_ts = reported_at -#}
with source as (
    {{ silver_relation('chargebacks', {
        'chargeback_id': dbt.type_string(), 'txn_id': dbt.type_string(), 'reason_code': dbt.type_string(),
        'is_fraud': dbt.type_boolean(), 'amount': 'double'}) }}
),

final as (
    select
        cast(chargeback_id as {{ dbt.type_string() }}) as chargeback_id,
        cast(txn_id as {{ dbt.type_string() }}) as txn_id,
        cast(reason_code as {{ dbt.type_string() }}) as reason_code,
        cast(is_fraud as {{ dbt.type_boolean() }}) as is_fraud,
        cast(event_ts as {{ ts_type() }}) as event_ts,
        cast(known_at as {{ ts_type() }}) as known_at,
        cast(dt as date) as dt
    from source
    where chargeback_id is not null
)

select * from final
