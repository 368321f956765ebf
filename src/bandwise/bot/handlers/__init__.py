"""Handlers, one router per part of the conversation."""
