"""Pure rules of plans: the state machine, validation and templates. No I/O, no clock."""
