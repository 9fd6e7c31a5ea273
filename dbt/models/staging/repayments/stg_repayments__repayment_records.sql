{#- schedule rows (record_type = schedule: due_date, amount due; event_ts = booking time) and
    payment rows (record_type = payment: amount paid; event_ts = payment time) -#}
with source as (
    {{ silver_relation('repayments', {
        'record_id': dbt.type_string(), 'loan_id': dbt.type_string(), 'record_type': dbt.type_string(),
        'installment_no': dbt.type_int(), 'due_date': 'date', 'amount': 'double'}) }}
),

final as (
    select
        cast(record_id as {{ dbt.type_string() }}) as record_id,
        cast(loan_id as {{ dbt.type_string() }}) as loan_id,
        cast(record_type as {{ dbt.type_string() }}) as record_type,
        cast(installment_no as {{ dbt.type_int() }}) as installment_no,
        cast(due_date as date) as due_date,
        -- the declared range is [0, 1000000]; silver has been seen to hold -10000001 (injected
        -- out-of-range value that passed ingest): such an amount is unknown, not negative
        cast(case when amount between 0 and 1000000 then amount end as double) as amount,
        cast(event_ts as {{ ts_type() }}) as event_ts,
        cast(known_at as {{ ts_type() }}) as known_at,
        cast(dt as date) as dt
    from source
    where record_id is not null
)

select * from final
