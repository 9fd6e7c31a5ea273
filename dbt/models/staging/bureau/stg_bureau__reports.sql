{#- bureau reports; event_ts = as_of_date 00:00 UTC; rows whose national id matched no customer
    (customer_id null) cannot feed customer features and are left out -#}
with source as (
    {{ silver_relation('bureau', {
        'report_id': dbt.type_string(), 'national_id_token': dbt.type_string(), 'customer_id': dbt.type_string(),
        'as_of_date': 'date', 'bureau_score': dbt.type_int(), 'open_accounts': dbt.type_int(),
        'total_balance': 'double', 'delinquencies_24m': dbt.type_int(), 'inquiries_6m': dbt.type_int(),
        'oldest_account_months': dbt.type_int()}) }}
),

final as (
    select
        cast(report_id as {{ dbt.type_string() }}) as report_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(as_of_date as date) as as_of_date,
        cast(bureau_score as {{ dbt.type_int() }}) as bureau_score,
        cast(open_accounts as {{ dbt.type_int() }}) as open_accounts,
        cast(total_balance as double) as total_balance,
        cast(delinquencies_24m as {{ dbt.type_int() }}) as delinquencies_24m,
        cast(inquiries_6m as {{ dbt.type_int() }}) as inquiries_6m,
        cast(oldest_account_months as {{ dbt.type_int() }}) as oldest_account_months,
        cast(event_ts as {{ ts_type() }}) as event_ts,
        cast(known_at as {{ ts_type() }}) as known_at,
        cast(dt as date) as dt
    from source
    where report_id is not null and customer_id is not null
)

select * from final
