"""The Celery worker: one task per command (`orderwire.PlaceOrder`, ...) and one per
after-commit subscriber. Start it with `celery --app worker.celery_app worker`."""
