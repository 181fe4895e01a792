"""The clip store: format, seal, files, index, boot repair, keys, sinks.

``fmt`` (header, trailer, hash, WAV export and verify; badge and hosts), ``mac`` (the
version 2 seal), ``file`` (one encrypted append-only clip file), ``index`` (the index
log), ``boot`` (recovery and repair at boot), ``store`` (``ClipStore``), ``keys`` (the
key slot), ``sink`` (``FolderSink``: clips as WAV in a folder).
"""
