"""Test support that plugins may import: the driver conformance kit and test doubles.

* :mod:`unigate.testing.storage_kit` -- :class:`DriverConformance`, the pytest suite
  every mailbox format driver runs against itself.
* :mod:`unigate.testing.memory_driver` -- :class:`ReferenceDriver`, a small JSON-lines
  driver that passes the kit, for tests of the mailbox manager.
* :mod:`unigate.testing.accounts` -- :class:`StaticAccounts`, an in-memory account
  directory implementing :class:`unigate.mailboxes.AccountDirectory`.
"""
