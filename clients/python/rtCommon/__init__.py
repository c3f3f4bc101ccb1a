"""RT-Cloud's `rtCommon` names over rtcloud_client, so RT-Cloud projects run unchanged.

`from rtCommon.clientInterface import ClientInterface`, `rtCommon.utils`,
`rtCommon.imageHandling`, `rtCommon.dataInterface` (the upload/download helpers) and
`rtCommon.errors` offer what RT-Cloud's projects import, written anew over this
project's client (not RT-Cloud's code). docs/porting-from-rtcloud.md lists every
RT-Cloud call with its status here.
"""
