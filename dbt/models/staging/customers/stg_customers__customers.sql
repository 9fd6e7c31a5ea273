{#- customer master versions; one row per customer and version (event_ts = updated_at) -#}
with source as (
    {{ silver_relation('customers', {
        'customer_id': dbt.type_string(), 'national_id_token': dbt.type_string(),
        'phone_token': dbt.type_string(), 'name_token': dbt.type_string(), 'date_of_birth': 'date',
        'region': dbt.type_string(), 'employment_status': dbt.type_string(),
        'annual_income': 'double', 'registered_at': ts_type(), 'updated_at': ts_type()}) }}
),

final as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(phone_token as {{ dbt.type_string() }}) as phone_token,
        cast(date_of_birth as date) as date_of_birth,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(employment_status as {{ dbt.type_string() }}) as employment_status,
        cast(annual_income as double) as annual_income,
        cast(registered_at as {{ ts_type() }}) as registered_at,
        cast(event_ts as {{ ts_type() }}) as event_ts,
        cast(known_at as {{ ts_type() }}) as known_at,
        cast(dt as date) as dt,
        cast(_source_file as {{ dbt.type_string() }}) as _source_file,
        cast(_source_row as {{ dbt.type_bigint() }}) as _source_row
    from source
    where customer_id is not null
)

select * from final
