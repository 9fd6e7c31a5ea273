"""Entities of the risk feature store: who or what a feature describes."""

from feast import Entity, ValueType

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.STRING,
    description="A bank customer (tokenised id from the customers feed).",
    owner="risk-data-eng@riskpipe.example",
    tags={"owner": "risk-data-eng", "pii": "tokenised"},
)

loan = Entity(
    name="loan",
    join_keys=["loan_id"],
    value_type=ValueType.STRING,
    description="A disbursed loan (one per accepted application), the subject of early warning.",
    owner="risk-data-eng@riskpipe.example",
    tags={"owner": "risk-data-eng"},
)
