"""The live stream (CONTRACT.md section 5): one Redis subscription per web process
(`hub`), per-session history for resuming (`history`), and the `/ws` route (`stream`)."""
