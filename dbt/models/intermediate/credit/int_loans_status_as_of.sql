{#- loan-level repayment status at T (loans whose schedule is known at T) -#}
with installments as (
    select * from {{ ref('int_installments_as_of') }}
),

final as (
    select
        loan_id,
        customer_id,
        cast(sum(is_due) as {{ dbt.type_bigint() }}) as installments_due,
        cast(sum(is_paid) as {{ dbt.type_bigint() }}) as installments_paid,
        cast(max(dpd) as {{ dbt.type_int() }}) as dpd_current,
        cast(max(dpd_30d_ago) as {{ dbt.type_int() }}) as dpd_30d_ago
    from installments
    group by loan_id, customer_id
)

select * from final
