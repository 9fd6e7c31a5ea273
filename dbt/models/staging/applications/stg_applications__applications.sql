with source as (
    {{ silver_relation('applications', {
        'application_id': dbt.type_string(), 'customer_id': dbt.type_string(),
        'applied_at': ts_type(), 'decided_at': ts_type(), 'requested_amount': 'double',
        'term_months': dbt.type_int(), 'purpose': dbt.type_string(), 'channel': dbt.type_string(),
        'declared_income': 'double', 'decision': dbt.type_string(), 'loan_id': dbt.type_string(),
        'interest_rate': 'double'}) }}
),

final as (
    select
        cast(application_id as {{ dbt.type_string() }}) as application_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(applied_at as {{ ts_type() }}) as applied_at,
        cast(decided_at as {{ ts_type() }}) as decided_at,
        cast(requested_amount as double) as requested_amount,
        cast(term_months as {{ dbt.type_int() }}) as term_months,
        cast(decision as {{ dbt.type_string() }}) as decision,
        cast(loan_id as {{ dbt.type_string() }}) as loan_id,
        cast(event_ts as {{ ts_type() }}) as event_ts,
        cast(known_at as {{ ts_type() }}) as known_at,
        cast(dt as date) as dt
    from source
    where application_id is not null
)

select * from final
