"""Storage adapter: the only importer of SQLAlchemy and Alembic."""
