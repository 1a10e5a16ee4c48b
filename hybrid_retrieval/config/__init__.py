"""Configuration: structured-config schemas, validation of a composed config, sweep validation, resolvers."""
