{#- per loan and installment: the quarantined repayment records that may be its payment (record type
    payment, or no valid type and no due date: a schedule record has one), and the first landing day
    one arrived. The lake does not know these
    payments: an installment unpaid in silver may have been paid, so a label it alone turns bad is
    held back (label_status unresolved) rather than published bad. -#}
with quarantined as (
    select * from {{ ref('stg_repayments__quarantined_records') }}
),

final as (
    select
        loan_id,
        installment_no,
        count(*) as records,
        min(landing_date) as first_landing_date
    from quarantined
    where loan_id is not null
      and installment_no is not null
      and (record_type = 'payment'
           or (coalesce(record_type, '') <> 'schedule' and not has_due_date))
    group by loan_id, installment_no
)

select * from final
