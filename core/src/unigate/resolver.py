"""The server's DNS resolver (the manual's DNR): dnspython, with custom servers when set.

``[server] dns_servers`` lists resolvers as ``address`` or ``address:port`` (``[v6]:port``);
empty means the operating system's. Every DNS user of the kernel -- DNSBL checks, MX
lookups of the SMTP module -- takes its resolver from :func:`make_resolver`, so one
setting points them all at the same servers (and tests at a local one).
"""

from __future__ import annotations

import dns.asyncresolver

from unigate.settings import parse_bind


def make_resolver(servers: list[str], *, timeout: float = 7.0) -> dns.asyncresolver.Resolver:
    """An async resolver for ``servers`` (OS configuration when empty)."""
    if not servers:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = []
        ports: dict[str, int] = {}
        for entry in servers:
            host, port = (
                parse_bind(entry)
                if ":" in entry.replace("::", "") or entry.startswith("[")
                else (entry, 53)
            )
            resolver.nameservers.append(host)
            ports[host] = port
        resolver.nameserver_ports = ports
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver
