"""Framework integrations: WSGI and ASGI middleware, Flask, Starlette/FastAPI, Django.

Each adapter imports its framework only inside its own module, so
``import reference_impl.integrations`` needs no framework. The rules every
adapter follows (save only modified sessions, all cookies or none, ``Vary:
Cookie``) are implemented once in ``reference_impl.integrations._common``.
"""
