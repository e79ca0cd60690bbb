"""A small client for the Tencent Cloud Chat REST API, and a local Chat sandbox.

Nothing in this package imports Django models or reads settings at import time, so
it could be published on its own. Chat's JSON field names appear only here.
"""
