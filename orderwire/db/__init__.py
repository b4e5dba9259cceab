"""Persistence with SQLAlchemy Core: tables, repositories, unit of work, command log, outbox."""
