"""RT-Cloud's import path for BidsArchive (rtcloud_client.bids), so ported scripts keep their import line."""

from rtcloud_client.bids import BidsArchive

__all__ = ["BidsArchive"]
