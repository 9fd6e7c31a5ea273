{{ config(sort_by='application_id') }}
{#- credit_pd label per approved application of day D (feature_ts = applied_at):
    1 when an installment of its loan reaches 90 days past due within 12 months of applied_at.
    An installment is n days past due on date due_date + n when still unpaid then (no payment
    before that date). label_known_at: the day 90 DPD was reached (positives), applied_at + 365
    days (negatives). A row exists only once its 12-month window closed within the lake horizon,
    positives included (an early default without the window's negatives would bias any sample
    taken before maturity); rebuilding the partition later adds them (labels mature). -#}
with applications as (
    select * from {{ ref('int_loans_booked') }}
    where applied_at >= {{ feature_ts() }} and applied_at < {{ later(feature_ts(), 1, 'day') }}
),

installments as (
    select * from {{ ref('int_installments_tracked') }}
),

horizon as (
    select horizon_ts from {{ ref('int_lake_horizon') }}
),

crossings as (
    select
        installments.loan_id,
        {{ dbt.dateadd('day', 90, 'installments.due_date') }} as crossing_date,
        installments.schedule_known_at,
        applications.applied_at,
        installments.paid_date
    from installments
    inner join applications on installments.loan_id = applications.loan_id
),

defaults as (
    select
        loan_id,
        min(greatest(cast(crossing_date as {{ ts_type() }}), schedule_known_at)) as default_known_at
    from crossings
    where crossing_date <= cast({{ later('applied_at', 365, 'day') }} as date)
      and (paid_date is null or paid_date >= crossing_date)
    group by loan_id
),

labelled as (
    select
        applications.application_id,
        applications.customer_id,
        applications.requested_amount,
        applications.applied_at as feature_ts,
        case when {{ later('applications.applied_at', 365, 'day') }} > horizon.horizon_ts then null  -- not matured
             when defaults.default_known_at is not null
                  and defaults.default_known_at <= horizon.horizon_ts then 1
             else 0
        end as label,
        case when defaults.default_known_at is not null
                  and defaults.default_known_at <= horizon.horizon_ts then defaults.default_known_at
             else {{ later('applications.applied_at', 365, 'day') }}
        end as label_known_at
    from applications
    cross join horizon
    left join defaults on applications.loan_id = defaults.loan_id
),

final as (
    select
        application_id,
        customer_id,
        requested_amount,
        feature_ts,
        cast(label as {{ dbt.type_int() }}) as label,
        cast(label_known_at as {{ ts_type() }}) as label_known_at
    from labelled
    where label is not null
)

select * from final
