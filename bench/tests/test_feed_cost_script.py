"""bench.feed_cost compares the publishing script with and without the feed: the "without"
side must be exactly the script minus the feed's lines, or the comparison means nothing."""

from bench.feed_cost import script_without_feed
from orderwire.outbox.publisher import PUBLISH_SCRIPT


def test_the_script_without_the_feed_differs_only_by_the_feed_lines() -> None:
    without = script_without_feed(PUBLISH_SCRIPT)
    assert "KEYS[5]" in PUBLISH_SCRIPT and "KEYS[5]" not in without
    assert "@feed" not in without
    removed = [line for line in PUBLISH_SCRIPT.splitlines() if line not in without.splitlines()]
    assert all("feed" in line or "XADD" in line or "EXPIRE', marker" in line or
               line.strip().startswith(("end", "'envelope'")) for line in removed), removed
    kept = [line for line in without.splitlines() if line not in PUBLISH_SCRIPT.splitlines()]
    assert kept == ["if any then redis.call('EXPIRE', marker, ttl) end"]
