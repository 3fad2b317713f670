"""Router: assigns every conversation (chat or ticket) to one agent, exactly once.

``routing.policy`` (pure) decides, ``routing/lua/*.lua`` enforce atomically in Redis via
``routing.store``, ``routing.router.Router`` is the service the hub and the poller call.
See docs/routing.md.
"""
