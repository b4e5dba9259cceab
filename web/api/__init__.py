"""The JSON API (CONTRACT.md sections 2 and 3): commands in, queries out."""
