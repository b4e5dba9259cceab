"""orderwire as real processes, and the clients, proxies and waits that drive it
(docs/testing.md lists the modules)."""
