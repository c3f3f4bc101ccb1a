"""RT-Cloud's import path for BidsIncremental (rtcloud_client.bids), so ported scripts keep their import line."""

from rtcloud_client.bids import BidsIncremental

__all__ = ["BidsIncremental"]
