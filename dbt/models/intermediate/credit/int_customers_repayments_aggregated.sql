{#- repayment behaviour per customer at T, over installments due in the window [T - w, T)
    (3m = 91, 6m = 182, 12m = 365 days); all as known at T -#}
with installments as (
    select * from {{ ref('int_installments_as_of') }}
),

windowed as (
    select
        *,
        {% for label, days in [('3m', 91), ('6m', 182), ('12m', 365)] -%}
        case when is_due = 1 and due_date >= {{ dbt.dateadd('day', -days, date_literal(feature_date())) }}
             then 1 else 0 end as due_{{ label }}{{ ',' if not loop.last }}
        {% endfor %}
    from installments
),

final as (
    select
        customer_id,
        cast(max(dpd) as {{ dbt.type_int() }}) as dpd_current,
        cast(coalesce(max(case when due_12m = 1 then days_late end), 0) as {{ dbt.type_int() }}) as dpd_max_12m,
        {% for label in ['3m', '6m', '12m'] -%}
        cast(sum(case when due_{{ label }} = 1 and is_on_time = 0 then 1 else 0 end) as {{ dbt.type_bigint() }})
            as missed_payments_{{ label }},
        cast(sum(case when due_{{ label }} = 1 and is_on_time = 1 then 1 else 0 end) as double)
            / nullif(sum(due_{{ label }}), 0) as on_time_ratio_{{ label }},
        {% endfor -%}
        -- exact sums: the unpaid part never exceeds the total, and reruns give the same bits
        {{ exact_sum('case when is_paid = 0 then amount_due else 0 end') }} / nullif({{ exact_sum('amount_due') }}, 0)
            as utilisation
    from windowed
    group by customer_id
)

select * from final
