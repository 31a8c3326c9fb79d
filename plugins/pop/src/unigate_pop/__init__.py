"""Unigate pop plugin: POP3 (RFC 1939) mailbox access with CAPA, UIDL, TOP, APOP, SASL and STLS.

:mod:`unigate_pop.protocol` is the sans-I/O core; :mod:`unigate_pop.session` the anyio
session; :mod:`unigate_pop.maildrop` the POP view of a mailbox; :mod:`unigate_pop.plugin`
the hooks.
"""
