"""The workload registry: name -> class.  Add a workload by writing one
module with a Workload subclass (see base.py) and naming it here."""

from .buildworld import Buildworld
from .exits import Exits
from .external import Boot, Ipi
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
