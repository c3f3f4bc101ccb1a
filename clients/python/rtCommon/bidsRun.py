"""RT-Cloud's import path for BidsRun (rtcloud_client.bids), so ported scripts keep their import line."""

from rtcloud_client.bids import BidsRun

__all__ = ["BidsRun"]
