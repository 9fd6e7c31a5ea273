{#- every installment of every loan whose schedule is known at T, with its repayment status as known
    at T: a payment counts only if paid (event_ts) < T and known_at <= T.
    An installment due on day D is overdue from D + 1; days past due at date x = x - due_date. -#}
with records as (
    select * from {{ ref('stg_repayments__repayment_records') }}
    where event_ts < {{ feature_ts() }} and known_at <= {{ feature_ts() }}
),

loans as (
    select * from {{ ref('int_loans_booked') }}
),

schedule as (
    select
        loan_id,
        installment_no,
        min(due_date) as due_date,
        max(amount) as amount_due
    from records
    where record_type = 'schedule'
    group by loan_id, installment_no
),

payments as (
    select
        loan_id,
        installment_no,
        min(event_ts) as paid_ts
    from records
    where record_type = 'payment'
    group by loan_id, installment_no
),

joined as (
    select
        schedule.loan_id,
        loans.customer_id,
        schedule.installment_no,
        schedule.due_date,
        schedule.amount_due,
        cast(payments.paid_ts as date) as paid_date,
        {{ date_literal(feature_date()) }} as as_of_date,
        {{ dbt.dateadd('day', -30, date_literal(feature_date())) }} as as_of_date_30d_ago
    from schedule
    inner join loans on schedule.loan_id = loans.loan_id
    left join payments
        on schedule.loan_id = payments.loan_id and schedule.installment_no = payments.installment_no
),

final as (
    select
        loan_id,
        customer_id,
        installment_no,
        due_date,
        amount_due,
        paid_date,
        case when due_date < as_of_date then 1 else 0 end as is_due,
        case when paid_date is not null then 1 else 0 end as is_paid,
        case when due_date < as_of_date and paid_date is not null and paid_date <= due_date then 1 else 0 end
            as is_on_time,
        cast(case when due_date < as_of_date and paid_date is null
                  then {{ days_between('due_date', 'as_of_date') }} else 0 end as {{ dbt.type_int() }}) as dpd,
        cast(case when due_date < as_of_date_30d_ago
                       and (paid_date is null or paid_date >= as_of_date_30d_ago)
                  then {{ days_between('due_date', 'as_of_date_30d_ago') }} else 0 end as {{ dbt.type_int() }})
            as dpd_30d_ago,
        cast(case when paid_date is not null
                  then greatest({{ days_between('due_date', 'paid_date') }}, 0)
                  when due_date < as_of_date then {{ days_between('due_date', 'as_of_date') }}
             end as {{ dbt.type_int() }}) as days_late
    from joined
)

select * from final
