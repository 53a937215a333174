"""Kefu's pure core: no Telegram, no SQLAlchemy, no jieba, no file or network I/O."""
