"""The account database: the manual's objects (domains, accounts, aliases, forwarders, groups)."""

from unigate.objects.names import NameError_, domain_name, object_name
from unigate.objects.store import ObjectError, ObjectStore, split_address
from unigate.router.objects import ObjectKind, ObjectRef

__all__ = [
    "NameError_",
    "ObjectKind",
    "ObjectError",
    "ObjectRef",
    "ObjectStore",
    "domain_name",
    "object_name",
    "split_address",
]
