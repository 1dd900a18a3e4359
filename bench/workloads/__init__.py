"""The workload registry: name -> class.  Add a workload by writing one
module with a Workload subclass (see base.py) and naming it here."""

from .boot import Boot
from .buildworld import Buildworld
from .exits import Exits
from .external import Ipi
from .fio import Fio
from .iperf3 import Iperf3

REGISTRY = {
    "buildworld": Buildworld,
    "fio": Fio,
    "iperf3": Iperf3,
    "exits": Exits,
    "ipi": Ipi,
    "boot": Boot,
}
