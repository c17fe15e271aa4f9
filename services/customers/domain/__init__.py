"""Pure rules of the Customers module (SPEC section 5): frozen models in, decisions out.

- `cutoff`: the market-local instant and calendar a membership "as of day D" is judged by.
- `relationship`: what one seller-customer pair did, folded from events by `evolve`.
- `profile`: the customer's latest attributes.
- `segments`: the seven built-in segments, all computed in one scan of a seller.
- `conditions`: custom segments, an AND of validated `{field, op, value}` conditions.
- `triggers`: when an automated plan's trigger fires for one customer.

Nothing here reads a clock, Kafka or Redis: `now` and `as_of` are arguments.
"""
