"""The text data format: Unigate's one object model for files, the CLI and APIs.

Every settings and info file of the server, every CLI argument and result and the
helper protocols use this format (manual "Data Formats", 24962-25270).  This
package is a strict parser and a canonical serializer for it.

Python mapping::

    string       "abc" / atom      <->  str
    datablock    [base64]          <->  bytes
    number       #123 #-0x1F       <->  int (int64; bool is refused)
    time stamp   #T22-10-2009_15:24:45, #TPAST, #TFUTURE  <->  Timestamp
    IP address   #I[10.0.0.1]:25   <->  IPAddress
    null         #NULL#            <->  None
    array        (a, b)            <->  list (tuple accepted on output)
    dictionary   {k = v; }         <->  dict (str keys, case-sensitive, ordered)
    XML          <tag .../>        <->  xml.etree.ElementTree.Element

Numbers and strings never convert into each other: ``#5`` is ``5``, ``"5"`` is
``"5"``.  ``loads``/``loads_line`` raise :class:`DataFormatError` (a ValueError with
``position``, ``line`` and ``column``) on any invalid input.
"""

from .errors import DataFormatError
from .files import read_file, write_file
from .parser import MAX_DEPTH, loads, loads_line
from .serializer import dumps
from .values import INT64_MAX, INT64_MIN, IPAddress, Timestamp, Value

__all__ = [
    "DataFormatError",
    "INT64_MAX",
    "INT64_MIN",
    "IPAddress",
    "MAX_DEPTH",
    "Timestamp",
    "Value",
    "dumps",
    "loads",
    "loads_line",
    "read_file",
    "write_file",
]
