"""Inbound and outbound mail records live here (see the inbound gateway issue)."""
