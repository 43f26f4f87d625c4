"""Test harness: real nats-servers on free loopback ports, SQLite and PostgreSQL databases."""
