"""Kefu (客服): after-sale dispute assistant for online sellers, as a Telegram bot."""

__version__ = "0.1.0"
