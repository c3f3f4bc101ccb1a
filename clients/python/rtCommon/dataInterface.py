"""RT-Cloud's file helpers of `rtCommon.dataInterface`, over the data interface.

"Upload" copies files from the data's side (the scanner console's streamer, or this
machine's disk without --data-remote) to this machine; "download" copies files of
this machine to the data's side with putFile. Every file passes the streamer's access
rules; a DICOM fetched this way is de-identified by the streamer unless it was started
with --send-identified (RT-Cloud sent files as stored).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any, List, Optional

from rtcloud_client.errors import InvalidArgument

from .utils import deleteFilesFromList, writeFile


def _destination(outputDir: str, path: str, srcDirPrefix: Optional[str]) -> str:
    """Where `path` goes under `outputDir`: with its folders below `srcDirPrefix` kept."""
    folder, name = os.path.split(path)
    sub = "" if srcDirPrefix is None else _below(folder, srcDirPrefix)
    return os.path.normpath(os.path.join(outputDir, sub, name))


def _below(folder: str, prefix: str) -> str:
    """The part of `folder` below `prefix`. A streamer shows paths relative, under the
    name of their allowed folder (/data/scans/run1 is scans/run1): such a folder is
    matched against the longest tail of `prefix` it starts with."""
    if folder.startswith(prefix):
        return folder[len(prefix):].lstrip(os.sep)
    if os.path.isabs(folder):
        return ""
    parts, tail = Path(folder).parts, Path(prefix).parts[1:]
    while tail and parts[:len(tail)] != tail:
        tail = tail[1:]
    return os.path.join("", *parts[len(tail):])


def uploadFilesFromList(dataInterface: Any, fileList: List[str], outputDir: str, srcDirPrefix: Optional[str] = None) -> None:
    """Copies each file of `fileList` from the data's side into `outputDir` here;
    folders in the list are passed over."""
    for path in fileList:
        try:
            data = dataInterface.getFile(path)
        except (IsADirectoryError, InvalidArgument) as err:
            if isinstance(err, IsADirectoryError) or "folder" in str(err):
                continue
            raise
        target = _destination(outputDir, path, srcDirPrefix)
        print(f"upload: {path} --> {target}")
        writeFile(target, data)


def downloadFilesFromList(dataInterface: Any, fileList: List[str], outputDir: str, srcDirPrefix: Optional[str] = None) -> None:
    """Copies each file of `fileList` on this machine into `outputDir` on the data's side."""
    for path in fileList:
        if os.path.isdir(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        target = _destination(outputDir, path, srcDirPrefix)
        print(f"download: {path} --> {target}")
        dataInterface.putFile(target, data)


def uploadFilesToCloud(dataInterface: Any, srcFilePattern: str, outputDir: str) -> None:
    """Copies the files matching the glob `srcFilePattern` on the data's side into `outputDir`."""
    uploadFilesFromList(dataInterface, dataInterface.listFiles(srcFilePattern), outputDir)


def uploadFolderToCloud(dataInterface: Any, srcDir: str, outputDir: str) -> None:
    """Copies the folder `srcDir` of the data's side, with its subfolders, into `outputDir`."""
    files = dataInterface.listFiles(os.path.join(srcDir, "**"))
    uploadFilesFromList(dataInterface, files, outputDir, srcDirPrefix=os.path.dirname(srcDir))


def _allowed(dataInterface: Any, files: List[str]) -> List[str]:
    types = dataInterface.getAllowedFileTypes()
    return [f for f in files if "*" in types or Path(f).suffix in types]


def downloadFolderFromCloud(dataInterface: Any, srcDir: str, outputDir: str, deleteAfter: bool = False) -> None:
    """Copies the folder `srcDir` here, with its subfolders, into `outputDir` on the data's
    side (only the file types it allows); `deleteAfter` deletes the copied files here."""
    files = _allowed(dataInterface, glob.glob(os.path.join(srcDir, "**"), recursive=True))
    downloadFilesFromList(dataInterface, files, outputDir, srcDirPrefix=os.path.dirname(srcDir))
    if deleteAfter:
        deleteFilesFromList(files)


def downloadFilesFromCloud(dataInterface: Any, srcFilePattern: str, outputDir: str, deleteAfter: bool = False) -> None:
    """Copies the files here matching the glob `srcFilePattern` into `outputDir` on the data's side."""
    files = glob.glob(srcFilePattern)
    downloadFilesFromList(dataInterface, files, outputDir)
    if deleteAfter:
        deleteFilesFromList(files)
