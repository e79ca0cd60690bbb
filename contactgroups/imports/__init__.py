"""The CSV imports of conversation groups and of Chat users, shared by the admin's upload and the commands.

Each import reads and checks the whole file first (a plan that changes nothing), then applies it. Chat is
changed only through ``sync`` and ``tasks``; every limit comes from ``chat.protocol``.
"""
