"""RT-Cloud's import path for ClientInterface, so ported scripts keep their import line."""

from rtcloud_client import ClientInterface

__all__ = ["ClientInterface"]
