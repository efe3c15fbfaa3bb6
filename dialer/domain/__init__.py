"""Pure domain model: no I/O, no asyncio, no SQLAlchemy, no clock reads."""
