"""RT-Cloud compatibility: `from rtCommon.clientInterface import ClientInterface` works."""
