{#- repayment records ingest quarantined, with the loan and installment their raw record names (null
    when it names none, or not as a number). record_type as landed (trimmed, lower case; null when
    missing); has_due_date: the record carries a due date (schedule records do, payments do not). -#}
with source as (
    {{ quarantine_relation('repayments') }}
),

final as (
    select
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(nullif(trim({{ json_text('raw', 'loan_id') }}), '') as {{ dbt.type_string() }}) as loan_id,
        cast(lower(trim({{ json_text('raw', 'record_type') }})) as {{ dbt.type_string() }}) as record_type,
        {{ try_int(json_text('raw', 'installment_no')) }} as installment_no,
        nullif(trim({{ json_text('raw', 'due_date') }}), '') is not null as has_due_date,
        cast(dt as date) as landing_date
    from source
)

select * from final
