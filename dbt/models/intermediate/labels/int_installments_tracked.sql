{#- every scheduled installment with its first payment, with everything the lake knows (labels
    look forward in time; they carry label_known_at instead of a point-in-time filter).
    crossing_date(n) = due_date + n days: the first day the installment is n days past due.
    payment_in_quarantine: a record that may be its payment was quarantined (int_quarantined_payments),
    so unpaid here does not mean unpaid. -#}
with records as (
    select * from {{ ref('stg_repayments__repayment_records') }}
),

quarantined as (
    select * from {{ ref('int_quarantined_payments') }}
),

loans as (
    select * from {{ ref('int_loans_booked') }}
),

schedule as (
    select loan_id, installment_no, min(due_date) as due_date, min(known_at) as schedule_known_at
    from records
    where record_type = 'schedule'
    group by loan_id, installment_no
),

payments as (
    select loan_id, installment_no, min(event_ts) as paid_ts
    from records
    where record_type = 'payment'
    group by loan_id, installment_no
),

final as (
    select
        schedule.loan_id,
        loans.customer_id,
        loans.application_id,
        loans.applied_at,
        schedule.installment_no,
        schedule.due_date,
        schedule.schedule_known_at,
        cast(payments.paid_ts as date) as paid_date,
        quarantined.loan_id is not null as payment_in_quarantine
    from schedule
    inner join loans on schedule.loan_id = loans.loan_id
    left join payments
        on schedule.loan_id = payments.loan_id and schedule.installment_no = payments.installment_no
    left join quarantined
        on schedule.loan_id = quarantined.loan_id and schedule.installment_no = quarantined.installment_no
)

select * from final
