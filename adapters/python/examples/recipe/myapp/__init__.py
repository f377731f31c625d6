"""A stand-in for *your* app: a tiny job queue with its own schema, written the way apps
write their DB layer (its own connections, explicit transactions). It knows nothing of
walburst; `../myapp_walburst.py` is the adapter (the recipe in adapters/python/README.md)."""
