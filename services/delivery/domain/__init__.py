"""Pure delivery rules: recipients minus suppressions, language choice, message ids,
attribution. No Kafka, Redis or clock."""
